// SPDX-License-Identifier: GPL-2.0

//! Dirty tracking: which IOVA devices wrote, as the IO page table of a domain records it.
//!
//! A paging HWPT allocated with `IOMMU_HWPT_ALLOC_DIRTY_TRACKING` has a domain with dirty
//! operations. `IOMMU_HWPT_SET_DIRTY_TRACKING` turns the recording on or off (clearing what
//! was recorded before, for a clean start); `IOMMU_HWPT_GET_DIRTY_BITMAP` reads (and
//! clears, unless asked not to) the dirty bits of an IOVA range into a user bitmap, through
//! the `iova_bitmap` helper, which maps the user's bitmap a window at a time.
//!
//! Both run under `IoPageTable::state`, so the areas do not change under them (C holds
//! `iova_rwsem` for reading); areas a map or unmap has `busy` are not read, as in C. A map
//! of other IOVA fills its domains meanwhile without `state`: a dirty read waits for no
//! map's pinning. The iommu core's side (the domain's dirty operations, the
//! user bitmap, the IOTLB gather) is `kernel::iommu::dirty`.

use kernel::{
    iommu::dirty::{DirtyBitmap, IotlbGather, IovaBitmap},
    prelude::*,
    uaccess::UserPtr,
};

use super::{area::with_first_in, hwpt::HwptPaging, iopt::IoptState, iova::IovaRange};
use crate::{uapi, ucmd::UCmd};

/// `IOMMU_HWPT_SET_DIRTY_TRACKING_ENABLE`.
const ENABLE: u32 =
    kernel::uapi::iommufd_hwpt_set_dirty_tracking_flags_IOMMU_HWPT_DIRTY_TRACKING_ENABLE;
/// `IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR` (the same bit as the core's
/// `IOMMU_DIRTY_NO_CLEAR`).
const NO_CLEAR: u32 =
    kernel::uapi::iommufd_hwpt_get_dirty_bitmap_flags_IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR;
const _: () = assert!(NO_CLEAR as usize == kernel::iommu::dirty::NO_CLEAR);

/// Runs `f(start, last)` for each part of `range` inside an area, in order.
///
/// # Errors
///
/// `EINVAL` if some IOVA of `range` is not mapped (after running `f` on what comes before
/// it), and `f`'s errors.
fn for_each_mapped(
    state: &IoptState,
    range: IovaRange,
    mut f: impl FnMut(u64, u64) -> Result,
) -> Result {
    let mut cur = range.start;
    loop {
        let probe = IovaRange {
            start: cur,
            last: cur,
        };
        // An area being built or torn down is not mapped (as C's contiguous walk).
        let last = with_first_in(&state.areas, probe, |last, area| {
            (!area.busy).then_some(last)
        })
        .flatten()
        .ok_or(EINVAL)?;
        let upto = last.min(range.last);
        f(cur, upto)?;
        if upto == range.last {
            return Ok(());
        }
        cur = upto + 1;
    }
}

/// `IOMMU_HWPT_SET_DIRTY_TRACKING`: turns dirty tracking of the HWPT `hwpt_id` on or off;
/// turning it on clears the dirty bits first.
///
/// # Errors
///
/// `EOPNOTSUPP` for unknown flags or a domain without dirty tracking, `ENOENT` for an
/// unknown HWPT, and the driver's errors.
pub(crate) fn set_dirty_tracking(ucmd: &UCmd<'_>, cmd: &mut uapi::HwptSetDirtyTracking) -> Result {
    if cmd.flags & !ENABLE != 0 {
        return Err(EOPNOTSUPP);
    }
    let hwpt = ucmd.ctx.objects.get::<HwptPaging>(cmd.hwpt_id)?;
    let domain = &hwpt.domain;
    if !domain.has_dirty_tracking() {
        return Err(EOPNOTSUPP);
    }
    let enable = cmd.flags & ENABLE != 0;
    let state = hwpt.ioas.iopt.state.lock();
    if enable {
        // A clean start: clear what the page table recorded before (flushed when the
        // gather goes).
        pin_init::stack_pin_init!(let gather = IotlbGather::new(domain));
        let mut dirty = DirtyBitmap::new(None, &gather);
        for (&last, area) in state.areas.iter().filter(|(_, area)| !area.busy) {
            let size = last - area.iova + 1;
            dirty.read_and_clear(area.iova as usize, size as usize, 0)?;
        }
    }
    domain.set_dirty_tracking(enable)
}

/// `IOMMU_HWPT_GET_DIRTY_BITMAP`: writes the dirty bits of `[iova, iova + length)` of the
/// HWPT `hwpt_id`, one per `page_size`, into the user bitmap at `data`, and clears them
/// unless `NO_CLEAR` is given.
///
/// As in C, an IOVA range with holes is read as far as it is mapped without an error.
///
/// # Errors
///
/// `EOPNOTSUPP` for unknown flags, a non-zero reserved field, or a domain without dirty
/// tracking; `ENOENT` for an unknown HWPT; `EOVERFLOW` for a range past the IOVA space;
/// `EINVAL` for a range or page size not aligned to the IOVA alignment and to `page_size`
/// (or a zero `page_size`); `ENOMEM`.
pub(crate) fn get_dirty_bitmap(ucmd: &UCmd<'_>, cmd: &mut uapi::HwptGetDirtyBitmap) -> Result {
    if cmd.flags & !NO_CLEAR != 0 || cmd.__reserved != 0 {
        return Err(EOPNOTSUPP);
    }
    let hwpt = ucmd.ctx.objects.get::<HwptPaging>(cmd.hwpt_id)?;
    let domain = &hwpt.domain;
    let state = hwpt.ioas.iopt.state.lock();
    // The range checks of C's `iommufd_check_iova_range()`.
    let last = cmd
        .iova
        .checked_add(cmd.length.wrapping_sub(1))
        .ok_or(EOVERFLOW)?;
    if cmd.iova > usize::MAX as u64 || last > usize::MAX as u64 {
        return Err(EOVERFLOW);
    }
    let align = state.iova_alignment;
    if cmd.iova & (align - 1) != 0 || last.wrapping_add(1) & (align - 1) != 0 {
        return Err(EINVAL);
    }
    let page = cmd.page_size;
    if page == 0 || cmd.iova & (page - 1) != 0 || last.wrapping_add(1) & (page - 1) != 0 {
        return Err(EINVAL);
    }
    if !domain.has_dirty_tracking() {
        return Err(EOPNOTSUPP);
    }
    let bitmap = IovaBitmap::new(
        cmd.iova as usize,
        cmd.length as usize,
        page as usize,
        UserPtr::from_addr(cmd.data as usize),
    )
    .map_err(|_| ENOMEM)?;
    // Flushed when it goes (nothing gathered with `NO_CLEAR`).
    pin_init::stack_pin_init!(let gather = IotlbGather::new(domain));
    let mut dirty = DirtyBitmap::new(Some(&bitmap), &gather);
    let flags = cmd.flags as usize;
    // As in C, the walk's result is not returned: the ranges read are what the user gets.
    let _ = bitmap.for_each(|iova, length| {
        // A zero length is the whole space from `iova`, as in C (the bitmap's range wraps).
        let range = IovaRange {
            start: iova as u64,
            last: iova.wrapping_add(length.wrapping_sub(1)) as u64,
        };
        for_each_mapped(&state, range, |start, last| {
            dirty.read_and_clear(start as usize, (last - start + 1) as usize, flags)
        })
    });
    Ok(())
}
