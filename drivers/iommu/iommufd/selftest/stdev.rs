// SPDX-License-Identifier: GPL-2.0

//! Mock devices as objects: `IOMMU_TEST_OP_MOCK_DOMAIN` creates a mock device, binds it to
//! the context and attaches it, like a VFIO driver would; the selftest object it returns
//! (the "stdev") owns all three, and destroying it undoes them.

use kernel::{error::to_result, prelude::*, sync::Arc};

use super::mock::{is_mock_paging, MockDev};
use crate::{
    ctx::CtxRef,
    device::idev::IDevice,
    object::ObjectHeader,
    pagetable::{
        hwpt::{Hwpt, HwptPaging},
        nested::HwptNested,
    },
    system::group::NO_PASID,
    ucmd::UCmd,
};
use kernel::{bindings, iommu::group::Group};

/// A mock device bound to a context (C's `selftest_obj` of type `TYPE_IDEV`).
///
/// # Lifetime
///
/// Created attached; dropping it detaches and unbinds the device, then removes it from the
/// mock bus.
pub(crate) struct StDev {
    header: ObjectHeader,
    /// Dropped before `_mock`: the device object must go (releasing the device's DMA
    /// ownership, which needs its IOMMU group) before the device leaves the bus.
    idev: Arc<IDevice>,
    /// Dropped last: the device outlives its binding.
    _mock: MockDev,
}

crate::object::object_type!(StDev, Selftest);

impl Drop for StDev {
    fn drop(&mut self) {
        IDevice::detach_all(&self.idev);
        IDevice::unbind(&self.idev);
    }
}

/// `IOMMU_TEST_OP_MOCK_DOMAIN(_FLAGS)`: creates a mock device with `dev_flags`, binds it
/// and attaches it to `pt_id` (an IOAS, for an automatic domain, or a HWPT); answers with
/// the ids of the selftest object, the HWPT and the device.
///
/// # Errors
///
/// `EINVAL` for unknown device flags, as binding and attaching fail, `EFAULT`.
pub(super) fn mock_domain(
    ucmd: &UCmd<'_>,
    cmd: &mut crate::uapi::TestCmd,
    dev_flags: u32,
) -> Result {
    let reservation = ucmd.ctx.objects.reserve()?;
    let stdev_id = reservation.id();
    let mock = MockDev::new(dev_flags)?;
    // SAFETY: The device is owned by the selftest object, an object of this context,
    // which unbinds it (dropping every clone of the reference) before the context's
    // objects are gone.
    let ctx = unsafe { CtxRef::new_uncounted(ucmd) };
    let idev = IDevice::bind(ctx, mock.device(), false)?;
    let mut pt_id = cmd.id;
    if let Err(e) = IDevice::attach(&idev, NO_PASID, &mut pt_id) {
        IDevice::unbind(&idev);
        return Err(e);
    }
    let idev_id = idev.id();
    // The selftest object takes the only references to the device object and the mock
    // device, so that on any error below, dropping it detaches and unbinds, frees the
    // device object (releasing the DMA ownership), and only then deletes the device.
    let st = Arc::new(
        StDev {
            header: ObjectHeader::new(),
            idev,
            _mock: mock,
        },
        GFP_KERNEL_ACCOUNT,
    )?;
    cmd.__bindgen_anon_1.mock_domain.out_stdev_id = stdev_id;
    cmd.__bindgen_anon_1.mock_domain.out_hwpt_id = pt_id;
    cmd.__bindgen_anon_1.mock_domain.out_idev_id = idev_id;
    let prepared = reservation.prepare(st)?;
    ucmd.respond(cmd)?;
    prepared.publish();
    Ok(())
}

/// `IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE`: moves the device of the selftest object
/// `stdev_id` to `pt_id`; answers with the HWPT used.
///
/// # Errors
///
/// `ENOENT` for an unknown object, as replacing fails, `EFAULT`.
pub(super) fn mock_domain_replace(
    ucmd: &UCmd<'_>,
    cmd: &mut crate::uapi::TestCmd,
    stdev_id: u32,
    pt_id: u32,
) -> Result {
    let st = ucmd.ctx.objects.get::<StDev>(stdev_id)?;
    let mut pt_id = pt_id;
    IDevice::replace(&st.idev, NO_PASID, &mut pt_id)?;
    cmd.__bindgen_anon_1.mock_domain_replace.pt_id = pt_id;
    ucmd.respond(cmd)
}

/// `IOMMU_TEST_OP_MD_CHECK_MAP`: checks that each mock page of `[iova, iova + length)` in
/// the mock domain of HWPT `hwpt_id` translates to the physical address of the same
/// offset of the user memory at `uptr`.
///
/// # Errors
///
/// `ENOENT` for an unknown HWPT, `EINVAL` for a HWPT of another driver, a misaligned
/// range, or a mismatch; `EFAULT`.
pub(super) fn check_map(
    ucmd: &UCmd<'_>,
    hwpt_id: u32,
    iova: u64,
    length: u64,
    uptr: u64,
) -> Result {
    let hwpt = ucmd.ctx.objects.get::<HwptPaging>(hwpt_id)?;
    let domain = &hwpt.domain;
    if !is_mock_paging(domain) {
        return Err(EINVAL);
    }
    let page = 1u64 << domain.pgsize_bitmap().trailing_zeros();
    if iova % page != 0
        || length % page != 0
        || uptr % page != 0
        || uptr.checked_add(length).is_none()
    {
        return Err(EINVAL);
    }
    let psize = kernel::page::PAGE_SIZE as u64;
    let (mut iova, mut uptr) = (iova, uptr);
    for _ in 0..length / page {
        let pfn = super::user_pfn((uptr & !(psize - 1)) as usize)?;
        if domain.iova_to_phys(iova) != pfn as u64 * psize + uptr % psize {
            return Err(EINVAL);
        }
        iova += page;
        uptr += page;
    }
    Ok(())
}

/// `IOMMU_TEST_OP_DIRTY`: marks as written, in the mock domain of HWPT `hwpt_id`, each page
/// of `page_size` bytes of `[iova, iova + length)` whose bit is set in the user bitmap at
/// `uptr`, as a device would; answers with the number marked.
///
/// # Errors
///
/// `EINVAL` for a zero or misaligned range or page size, a null bitmap, a HWPT of another
/// driver or not tracking; `EOVERFLOW` for more than 2^27 pages; `ENOENT`; `EFAULT`;
/// `ENOMEM`.
pub(super) fn dirty(
    ucmd: &UCmd<'_>,
    cmd: &mut crate::uapi::TestCmd,
    hwpt_id: u32,
    iova: u64,
    length: u64,
    page_size: u64,
    uptr: u64,
) -> Result {
    if page_size == 0
        || length == 0
        || iova % page_size != 0
        || length % page_size != 0
        || uptr == 0
    {
        return Err(EINVAL);
    }
    let max = length / page_size;
    if max > (16u64 << 20) * 8 {
        return Err(EOVERFLOW);
    }
    let hwpt = ucmd.ctx.objects.get::<HwptPaging>(hwpt_id)?;
    let marker = super::mock::DirtyMarker::new(&hwpt.domain)?;
    let nbytes = max.div_ceil(8) as usize;
    let mut bits = KVVec::<u8>::with_capacity(nbytes, GFP_KERNEL_ACCOUNT)?;
    bits.resize(nbytes, 0, GFP_KERNEL_ACCOUNT)?;
    kernel::uaccess::UserSlice::new(kernel::uaccess::UserPtr::from_addr(uptr as usize), nbytes)
        .reader()
        .read_slice(&mut bits)?;
    let mut count = 0u64;
    for i in 0..max {
        if bits[(i / 8) as usize] & (1 << (i % 8)) == 0 {
            continue;
        }
        marker.mark(iova + i * page_size);
        count += 1;
    }
    cmd.__bindgen_anon_1.dirty.out_nr_dirty = count;
    ucmd.respond(cmd)
}

/// `IOMMU_TEST_OP_PASID_ATTACH` and `IOMMU_TEST_OP_PASID_REPLACE`: attaches (or moves)
/// `pasid` of the device of the selftest object `stdev_id` to `pt_id`; answers with the
/// HWPT used. An attach is undone if the answer cannot be written.
///
/// # Errors
///
/// `ENOENT` for an unknown object, as attaching or replacing fails, `EFAULT`.
pub(super) fn pasid_change(
    ucmd: &UCmd<'_>,
    cmd: &mut crate::uapi::TestCmd,
    stdev_id: u32,
    pasid: u32,
    pt_id: u32,
    replace: bool,
) -> Result {
    let st = ucmd.ctx.objects.get::<StDev>(stdev_id)?;
    let mut pt_id = pt_id;
    if replace {
        IDevice::replace(&st.idev, pasid, &mut pt_id)?;
        cmd.__bindgen_anon_1.pasid_replace.pt_id = pt_id;
        return ucmd.respond(cmd);
    }
    IDevice::attach(&st.idev, pasid, &mut pt_id)?;
    cmd.__bindgen_anon_1.pasid_attach.pt_id = pt_id;
    ucmd.respond(cmd)
        .inspect_err(|_| IDevice::detach(&st.idev, pasid))
}

/// `IOMMU_TEST_OP_PASID_DETACH`: detaches `pasid` of the device of the selftest object
/// `stdev_id` (nothing if it is not attached).
///
/// # Errors
///
/// `ENOENT` for an unknown object.
pub(super) fn pasid_detach(ucmd: &UCmd<'_>, stdev_id: u32, pasid: u32) -> Result {
    let st = ucmd.ctx.objects.get::<StDev>(stdev_id)?;
    IDevice::detach(&st.idev, pasid);
    Ok(())
}

/// `IOMMU_TEST_OP_PASID_CHECK_HWPT`: checks, with the iommu core, that `pasid` of the
/// device of the selftest object `stdev_id` is attached to the HWPT `hwpt_id`, or to
/// nothing if `hwpt_id` is 0.
///
/// # Errors
///
/// `ENOENT` for an unknown object; `EINVAL` for an object that is not a HWPT, or on a
/// mismatch.
pub(super) fn pasid_check(ucmd: &UCmd<'_>, stdev_id: u32, pasid: u32, hwpt_id: u32) -> Result {
    let st = ucmd.ctx.objects.get::<StDev>(stdev_id)?;
    let group = Group::of(&st.idev.dev).ok_or(EINVAL)?;
    // SAFETY: The group is valid; the core looks the handle up under its own lock.
    let handle = unsafe { bindings::iommu_attach_handle_get(group.as_raw(), pasid, 0) };
    let attached = if kernel::error::from_err_ptr(handle).is_ok() && !handle.is_null() {
        // SAFETY: A handle the core returns is valid while attached; the test serialises
        // its own attaches with this check.
        unsafe { (*handle).domain }
    } else {
        core::ptr::null_mut()
    };
    if hwpt_id == 0 {
        return if attached.is_null() {
            Ok(())
        } else {
            Err(EINVAL)
        };
    }
    let hwpt = Hwpt::get(&ucmd.ctx.objects, hwpt_id)?.hwpt();
    if core::ptr::eq(hwpt.domain().as_raw(), attached) {
        Ok(())
    } else {
        Err(EINVAL)
    }
}

/// `IOMMU_TEST_OP_MD_CHECK_IOTLB`: checks IOTLB entry `iotlb_id` of the mock nested HWPT
/// `hwpt_id` against `iotlb`.
///
/// # Errors
///
/// `ENOENT` for an unknown nested HWPT, `EINVAL` for one of another driver, an id out of
/// range, or a mismatch.
pub(super) fn check_iotlb(ucmd: &UCmd<'_>, hwpt_id: u32, iotlb_id: u32, iotlb: u32) -> Result {
    let hwpt = ucmd.ctx.objects.get::<HwptNested>(hwpt_id)?;
    super::mock::check_iotlb(&hwpt.domain, iotlb_id, iotlb)
}

/// `IOMMU_TEST_OP_TRIGGER_VEVENT`: reports a selftest event carrying the virtual ID of the
/// device `dev_id` to its vIOMMU, as the mock hardware would when the device faults on
/// the vIOMMU's nested domain its RID is attached to.
///
/// # Errors
///
/// `ENOENT` for an unknown device, or one not attached to a nested HWPT of a vIOMMU (or
/// attached with virtual ID 0); `EOPNOTSUPP` if the vIOMMU has no selftest event queue; `ENOMEM` if
/// the event was lost.
pub(super) fn trigger_vevent(ucmd: &UCmd<'_>, dev_id: u32) -> Result {
    let idev = ucmd.ctx.objects.get::<IDevice>(dev_id)?;
    let Some(Hwpt::Nested(nested)) = idev.attached_hwpt(NO_PASID) else {
        return Err(ENOENT);
    };
    let viommu = nested.viommu().ok_or(ENOENT)?.drv.as_raw();
    // The ID the device latched at its attach, as C's mock reports with (also after the
    // vDEVICE was destroyed).
    let virt_id = super::mock::latched_vdev_id(&idev.dev)?;
    if virt_id == 0 {
        return Err(ENOENT);
    }
    let mut event = kernel::uapi::iommu_viommu_event_selftest {
        virt_id: virt_id as u32,
    };
    // SAFETY: The vIOMMU is live while the nested HWPT holds it; `event` is valid for its
    // size.
    to_result(unsafe {
        bindings::iommufd_viommu_report_event(
            viommu,
            kernel::uapi::IOMMU_VEVENTQ_TYPE_SELFTEST,
            (&raw mut event).cast(),
            core::mem::size_of_val(&event),
        )
    })
}
