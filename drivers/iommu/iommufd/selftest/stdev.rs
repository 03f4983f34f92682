// SPDX-License-Identifier: GPL-2.0

//! Mock devices as objects: `IOMMU_TEST_OP_MOCK_DOMAIN` creates a mock device, binds it to
//! the context and attaches it, like a VFIO driver would; the selftest object it returns
//! (the "stdev") owns all three, and destroying it undoes them.

use kernel::{prelude::*, sync::Arc};

use super::mock::{is_mock_paging, MockDev};
use crate::{
    ctx::CtxRef, device::idev::IDevice, object::ObjectHeader, pagetable::hwpt::HwptPaging,
    ucmd::UCmd,
};

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
        IDevice::detach(&self.idev);
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
    if let Err(e) = IDevice::attach(&idev, &mut pt_id) {
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
    IDevice::replace(&st.idev, &mut pt_id)?;
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
