// SPDX-License-Identifier: GPL-2.0

//! `IOMMU_GET_HW_INFO`: what the IOMMU of a bound device can do, in its driver's format,
//! with the capabilities iommufd reports for every driver.

use kernel::{
    iommu::domain::{
        device_capable, device_hw_info, device_max_pasids, device_pci_pasid_control, Cap,
    },
    prelude::*,
    uaccess::{UserPtr, UserSlice},
};

use crate::{
    device::idev::IDevice,
    uapi::{self, hw_info},
    ucmd::UCmd,
};

/// `IOMMU_GET_HW_INFO`: copies the driver's information for the device `dev_id` to
/// `data_uptr` (at most `data_len` bytes, zeroing the rest of the buffer) and answers with
/// its full length, its type, the capabilities and the PASID width.
///
/// # Errors
///
/// `EOPNOTSUPP` for unknown flags, non-zero reserved bytes, or a type the driver does not
/// have; `ENOENT` for an unknown device; `EFAULT`; `ENOMEM`.
pub(crate) fn get_hw_info(ucmd: &UCmd<'_>, cmd: &mut uapi::HwInfo) -> Result {
    if cmd.flags & !hw_info::FLAG_INPUT_TYPE != 0 {
        return Err(EOPNOTSUPP);
    }
    if cmd.__reserved.iter().any(|&b| b != 0) {
        return Err(EOPNOTSUPP);
    }
    // Drivers do not take a random input type.
    let in_type = if cmd.flags & hw_info::FLAG_INPUT_TYPE != 0 {
        cmd.in_data_type()
    } else {
        hw_info::TYPE_DEFAULT
    };
    let idev = ucmd.ctx.objects.get::<IDevice>(cmd.dev_id)?;
    let info = device_hw_info(&idev.dev, in_type)?;
    let (data, out_type): (&[u8], u32) = match &info {
        Some(info) => {
            if info.data_type() == hw_info::TYPE_NONE {
                // A driver with information has a type of its own.
                kernel::warn_on!(true);
                return Err(EOPNOTSUPP);
            }
            (info.data(), info.data_type())
        }
        None => (&[], hw_info::TYPE_NONE),
    };
    let user_len = cmd.data_len as usize;
    let copy_len = user_len.min(data.len());
    let mut writer = UserSlice::new(UserPtr::from_addr(cmd.data_uptr as usize), user_len).writer();
    writer.write_slice(&data[..copy_len])?;
    // Zero the rest of a buffer larger than the data.
    let zeros = [0u8; 64];
    let mut left = user_len - copy_len;
    while left != 0 {
        let n = left.min(zeros.len());
        writer.write_slice(&zeros[..n])?;
        left -= n;
    }
    cmd.data_len = data.len() as u32;
    cmd.__bindgen_anon_1.out_data_type = out_type;
    let mut caps = 0u64;
    if device_capable(&idev.dev, Cap::DIRTY_TRACKING) {
        caps |= hw_info::CAP_DIRTY_TRACKING;
    }
    if !device_capable(&idev.dev, Cap::PCI_ATS_SUPPORTED) {
        caps |= hw_info::CAP_PCI_ATS_NOT_SUPPORTED;
    }
    // As C: the IOMMU drivers enable PASID when they probe a device that can use it, so a
    // device with PASIDs has it enabled; a PCI function reports what its requests may ask.
    let pasids = device_max_pasids(&idev.dev);
    cmd.out_max_pasid_log2 = 0;
    if pasids != 0 {
        cmd.out_max_pasid_log2 = pasids.ilog2() as u8;
        if let Some(ctrl) = device_pci_pasid_control(&idev.dev) {
            kernel::warn_on!(!ctrl.enabled);
            if ctrl.exec {
                caps |= hw_info::CAP_PCI_PASID_EXEC;
            }
            if ctrl.privileged {
                caps |= hw_info::CAP_PCI_PASID_PRIV;
            }
        }
    }
    cmd.out_capabilities = caps;
    ucmd.respond(cmd)
}
