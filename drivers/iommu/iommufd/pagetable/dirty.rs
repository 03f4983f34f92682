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
//! `iova_rwsem` for reading). The `iommu_iotlb_gather` and `iommu_dirty_bitmap` of the
//! iommu core are built here: their initialisers are inline C.

use core::{ffi::c_void, mem::MaybeUninit};
use kernel::{bindings, iommu::domain::Domain, prelude::*};

use super::{area::with_first_in, hwpt::HwptPaging, iopt::IoptState, iova::IovaRange};
use crate::{uapi, ucmd::UCmd};

/// `IOMMU_HWPT_SET_DIRTY_TRACKING_ENABLE`.
const ENABLE: u32 =
    kernel::uapi::iommufd_hwpt_set_dirty_tracking_flags_IOMMU_HWPT_DIRTY_TRACKING_ENABLE;
/// `IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR` (the same bit as the core's
/// `IOMMU_DIRTY_NO_CLEAR`).
const NO_CLEAR: u32 =
    kernel::uapi::iommufd_hwpt_get_dirty_bitmap_flags_IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR;

/// An `iommu_iotlb_gather`: the IOTLB invalidations (and freed table pages) a walk of the
/// page table collects, flushed by [`Gather::sync`].
///
/// # Invariants
///
/// `inner` is initialised as `iommu_iotlb_gather_init()` does. Its free list points to
/// itself, so a gather never moves: it is only reached through the `&mut` that
/// [`Gather::init`] returns for a slot that stays in place.
struct Gather {
    inner: bindings::iommu_iotlb_gather,
}

impl Gather {
    /// Initialises the gather in place (`iommu_iotlb_gather_init()`).
    fn init(slot: &mut MaybeUninit<Gather>) -> &mut Gather {
        let gather = slot.write(Gather {
            // SAFETY: All-zero is a valid gather (integers, a list head, a bool).
            inner: unsafe { MaybeUninit::zeroed().assume_init() },
        });
        // The list head must point to itself at its final address.
        gather.reset();
        gather
    }

    fn reset(&mut self) {
        // SAFETY: All-zero is a valid gather, as above.
        self.inner = unsafe { MaybeUninit::zeroed().assume_init() };
        self.inner.start = usize::MAX;
        let head = &raw mut self.inner.freelist.pages;
        // SAFETY: `head` is the list head of this gather, at its final address.
        unsafe {
            (*head).next = head;
            (*head).prev = head;
        }
    }

    /// Flushes what was gathered for `domain` (`iommu_iotlb_sync()`).
    fn sync(&mut self, domain: &Domain) {
        // SAFETY: The domain's ops are valid while it lives.
        let sync = unsafe { (*domain.ops()).iotlb_sync };
        if let Some(sync) = sync {
            if self.inner.start < self.inner.end {
                // SAFETY: The domain is valid; the gather belongs to a walk of it.
                unsafe { sync(domain.as_raw(), &mut self.inner) };
            }
        }
        self.reset();
    }
}

/// The dirty operations of `domain`, if it has them.
fn dirty_ops(domain: &Domain) -> Option<&bindings::iommu_dirty_ops> {
    let ops = domain.dirty_ops();
    // SAFETY: A domain's dirty ops are a static table of its driver, valid while it lives.
    (!ops.is_null()).then(|| unsafe { &*ops })
}

/// Reads (and clears, unless `flags` has `NO_CLEAR`) the dirty bits of `[iova, iova +
/// size)` of `domain` into `dirty`.
fn read_and_clear(
    domain: &Domain,
    iova: u64,
    size: u64,
    flags: u32,
    dirty: *mut bindings::iommu_dirty_bitmap,
) -> Result {
    let f = dirty_ops(domain)
        .and_then(|ops| ops.read_and_clear_dirty)
        .ok_or(EOPNOTSUPP)?;
    // SAFETY: The domain is valid; `dirty` is valid for the call (its bitmap may be null,
    // which the drivers accept as "clear only").
    kernel::error::to_result(unsafe {
        f(
            domain.as_raw(),
            iova as usize,
            size as usize,
            flags as usize,
            dirty,
        )
    })
}

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
        let last = with_first_in(&state.areas, probe, |last, _| last).ok_or(EINVAL)?;
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
    let set = dirty_ops(domain)
        .and_then(|ops| ops.set_dirty_tracking)
        .ok_or(EOPNOTSUPP)?;
    let enable = cmd.flags & ENABLE != 0;
    let state = hwpt.ioas.iopt.state.lock();
    if enable {
        // A clean start: clear what the page table recorded before.
        let mut slot = MaybeUninit::uninit();
        let gather = Gather::init(&mut slot);
        let mut dirty = bindings::iommu_dirty_bitmap {
            bitmap: core::ptr::null_mut(),
            gather: &mut gather.inner,
        };
        let mut result = Ok(());
        for (&last, area) in state.areas.iter() {
            result = read_and_clear(domain, area.iova, last - area.iova + 1, 0, &mut dirty);
            if result.is_err() {
                break;
            }
        }
        gather.sync(domain);
        result?;
    }
    // SAFETY: The domain is valid and has this callback.
    kernel::error::to_result(unsafe { set(domain.as_raw(), enable) })
}

/// What the `iova_bitmap` walk gives [`read_window`] for each window of the bitmap.
struct WalkArg<'a> {
    state: &'a IoptState,
    domain: &'a Domain,
    flags: u32,
    dirty: *mut bindings::iommu_dirty_bitmap,
}

/// Reads the dirty bits of one window of the user's bitmap (`iova_bitmap_fn_t`).
///
/// # Safety
///
/// Called by `iova_bitmap_for_each` with the `WalkArg` given to it as `opaque`.
unsafe extern "C" fn read_window(
    _bitmap: *mut bindings::iova_bitmap,
    iova: usize,
    length: usize,
    opaque: *mut c_void,
) -> core::ffi::c_int {
    // SAFETY: The caller passes our `WalkArg`, alive for the whole walk.
    let arg = unsafe { &*opaque.cast::<WalkArg<'_>>() };
    // A zero length is the whole space from `iova`, as in C (the bitmap's range wraps).
    let range = IovaRange {
        start: iova as u64,
        last: iova.wrapping_add(length.wrapping_sub(1)) as u64,
    };
    let r = for_each_mapped(arg.state, range, |start, last| {
        read_and_clear(arg.domain, start, last - start + 1, arg.flags, arg.dirty)
    });
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
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
    dirty_ops(domain)
        .and_then(|ops| ops.read_and_clear_dirty)
        .ok_or(EOPNOTSUPP)?;
    // SAFETY: The bitmap helper validates the user address when it maps it.
    let bitmap = unsafe {
        bindings::iova_bitmap_alloc(
            cmd.iova as usize,
            cmd.length as usize,
            page as usize,
            cmd.data as usize as *mut u64,
        )
    };
    if kernel::error::from_err_ptr(bitmap).is_err() {
        return Err(ENOMEM);
    }
    let mut slot = MaybeUninit::uninit();
    let gather = Gather::init(&mut slot);
    let mut dirty = bindings::iommu_dirty_bitmap {
        bitmap,
        gather: &mut gather.inner,
    };
    let mut arg = WalkArg {
        state: &state,
        domain,
        flags: cmd.flags,
        dirty: &mut dirty,
    };
    // SAFETY: `bitmap` is valid until freed below; `arg` outlives the walk. As in C, the
    // walk's result is not returned: the ranges read are what the user gets.
    unsafe {
        bindings::iova_bitmap_for_each(bitmap, (&raw mut arg).cast(), Some(read_window));
    }
    if cmd.flags & NO_CLEAR == 0 {
        gather.sync(domain);
    }
    // SAFETY: Allocated above, freed once.
    unsafe { bindings::iova_bitmap_free(bitmap) };
    Ok(())
}
