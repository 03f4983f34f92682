// SPDX-License-Identifier: GPL-2.0

//! Dirty tracking of IOMMU domains: which IOVA devices wrote, as a domain's IO page table
//! records it, read into a user bitmap a window at a time.
//!
//! A domain whose driver tracks dirty pages has dirty operations
//! ([`Domain::has_dirty_tracking`]): [`Domain::set_dirty_tracking`] turns the recording on
//! or off, and [`DirtyBitmap::read_and_clear`] reads (and clears, unless asked not to)
//! the dirty bits of an IOVA range into an [`IovaBitmap`], collecting the IOTLB flushes
//! the clearing needs in an [`IotlbGather`], which flushes them when dropped.
//!
//! C headers: [`include/linux/iommu.h`](srctree/include/linux/iommu.h),
//! [`include/linux/iova_bitmap.h`](srctree/include/linux/iova_bitmap.h)

use crate::{
    bindings,
    error::{code::*, from_err_ptr, to_result, Result},
    iommu::domain::Domain,
    prelude::*,
    types::Opaque,
    uaccess::UserPtr,
};
use core::{ffi::c_void, marker::PhantomData, ptr::NonNull};

/// `IOMMU_DIRTY_NO_CLEAR`: read the dirty bits without clearing them.
pub const NO_CLEAR: usize = bindings::IOMMU_DIRTY_NO_CLEAR as usize;

impl Domain {
    /// Whether the domain's driver tracks dirty pages (it has both dirty operations).
    pub fn has_dirty_tracking(&self) -> bool {
        self.dirty_ops_ref().is_some_and(|ops| {
            ops.set_dirty_tracking.is_some() && ops.read_and_clear_dirty.is_some()
        })
    }

    /// Turns the recording of dirty pages on or off.
    ///
    /// # Errors
    ///
    /// `EOPNOTSUPP` if the domain does not track dirty pages; what the driver returns.
    pub fn set_dirty_tracking(&self, enable: bool) -> Result {
        let set = self
            .dirty_ops_ref()
            .and_then(|ops| ops.set_dirty_tracking)
            .ok_or(EOPNOTSUPP)?;
        // SAFETY: The domain is valid while `self` lives and has this operation.
        to_result(unsafe { set(self.as_raw(), enable) })
    }

    /// The domain's dirty operations, if it has them.
    fn dirty_ops_ref(&self) -> Option<&bindings::iommu_dirty_ops> {
        // SAFETY: A domain's dirty operations are null or a static table of its driver,
        // which outlives the domain.
        unsafe { self.dirty_ops().as_ref() }
    }
}

/// The IOTLB invalidations (and freed page-table pages) that changes to one domain's IO
/// page table collect (C's `struct iommu_iotlb_gather`), flushed by
/// [`IotlbGather::sync`] and, at the latest, when it is dropped.
///
/// A gather belongs to one domain: page-table pages the driver frees only once the IOTLB
/// of that domain is flushed must not be flushed through another.
///
/// # Invariants
///
/// `inner` is initialised (`iommu_iotlb_gather_init()`) and only ever given to the driver
/// of `domain`.
#[pin_data(PinnedDrop)]
pub struct IotlbGather<'a> {
    #[pin]
    inner: Opaque<bindings::iommu_iotlb_gather>,
    domain: &'a Domain,
}

impl<'a> IotlbGather<'a> {
    /// An empty gather for `domain`.
    pub fn new(domain: &'a Domain) -> impl PinInit<Self> {
        // INVARIANT: Initialised in place (its free list points to itself).
        pin_init!(Self {
            // SAFETY: `ptr` is valid for writes, at the gather's final (pinned) address.
            inner <- Opaque::ffi_init(|ptr| unsafe { bindings::iommu_iotlb_gather_init(ptr) }),
            domain,
        })
    }

    /// Flushes what was gathered (`iommu_iotlb_sync()`) and starts empty again.
    pub fn sync(&self) {
        // SAFETY: The gather is initialised and belongs to `domain` (type invariant), which
        // is valid; a gather is not `Sync`, so nothing else uses it during the call.
        unsafe { bindings::iommu_iotlb_sync(self.domain.as_raw(), self.inner.get()) };
    }
}

#[pinned_drop]
impl PinnedDrop for IotlbGather<'_> {
    fn drop(self: Pin<&mut Self>) {
        self.sync();
    }
}

/// A user bitmap of dirty bits, one per page of an IOVA range, which the walk
/// ([`IovaBitmap::for_each`]) maps a window at a time (C's `struct iova_bitmap`).
///
/// # Invariants
///
/// `ptr` is a bitmap of `iova_bitmap_alloc()` this object owns.
pub struct IovaBitmap(NonNull<bindings::iova_bitmap>);

impl IovaBitmap {
    /// A bitmap at the user address `data` for `[iova, iova + length)`, a bit per
    /// `page_size` bytes. The user memory is checked when a window of it is mapped.
    ///
    /// # Errors
    ///
    /// `ENOMEM`, or what the helper returns for its arguments.
    pub fn new(iova: usize, length: usize, page_size: usize, data: UserPtr) -> Result<Self> {
        // SAFETY: The helper takes any arguments; it validates the user address when it
        // pins the user's pages.
        let ptr = from_err_ptr(unsafe {
            bindings::iova_bitmap_alloc(iova, length, page_size, data.as_mut_ptr().cast())
        })?;
        // INVARIANT: A bitmap of `iova_bitmap_alloc()`, ours.
        NonNull::new(ptr).map(Self).ok_or(ENOMEM)
    }

    /// Runs `f(iova, length)` for each window of the bitmap, in order, while the window's
    /// user pages are mapped; stops at the first error.
    ///
    /// # Errors
    ///
    /// What `f` returns, or the helper's errors (mapping the user's pages).
    pub fn for_each<F: FnMut(usize, usize) -> Result>(&self, mut f: F) -> Result {
        /// Calls the closure `opaque` points to.
        ///
        /// # Safety
        ///
        /// `opaque` points to an `F`, exclusively for the call.
        unsafe extern "C" fn window<F: FnMut(usize, usize) -> Result>(
            _bitmap: *mut bindings::iova_bitmap,
            iova: usize,
            length: usize,
            opaque: *mut c_void,
        ) -> crate::ffi::c_int {
            // SAFETY: By the function's safety requirement.
            let f = unsafe { &mut *opaque.cast::<F>() };
            match f(iova, length) {
                Ok(()) => 0,
                Err(e) => e.to_errno(),
            }
        }
        // SAFETY: The bitmap is ours (type invariant); `f` lives across the walk, which
        // calls `window::<F>` with it, one call at a time.
        to_result(unsafe {
            bindings::iova_bitmap_for_each(
                self.0.as_ptr(),
                core::ptr::from_mut(&mut f).cast(),
                Some(window::<F>),
            )
        })
    }
}

impl Drop for IovaBitmap {
    fn drop(&mut self) {
        // SAFETY: The bitmap is ours (type invariant), freed once, here.
        unsafe { bindings::iova_bitmap_free(self.0.as_ptr()) };
    }
}

/// Where a read of dirty bits goes: an [`IovaBitmap`] (or none: clear only) and the
/// [`IotlbGather`] of the domain read (C's `struct iommu_dirty_bitmap`).
///
/// # Invariants
///
/// `raw.bitmap` is null or the bitmap of `'a`, and `raw.gather` the gather of `'a`, which
/// belongs to `domain`.
pub struct DirtyBitmap<'a> {
    raw: bindings::iommu_dirty_bitmap,
    domain: &'a Domain,
    _borrow: PhantomData<(&'a IovaBitmap, &'a IotlbGather<'a>)>,
}

impl<'a> DirtyBitmap<'a> {
    /// Dirty bits of the domain of `gather` into `bitmap`, or cleared only if `None`.
    pub fn new(bitmap: Option<&'a IovaBitmap>, gather: &'a IotlbGather<'a>) -> Self {
        // INVARIANT: Both borrowed for `'a`; `domain` is the gather's.
        Self {
            raw: bindings::iommu_dirty_bitmap {
                bitmap: bitmap.map_or(core::ptr::null_mut(), |b| b.0.as_ptr()),
                gather: gather.inner.get(),
            },
            domain: gather.domain,
            _borrow: PhantomData,
        }
    }

    /// Reads the dirty bits of `[iova, iova + size)` into the bitmap, and clears them in
    /// the IO page table unless `flags` has [`NO_CLEAR`] (the flushes that needs go to the
    /// gather).
    ///
    /// # Errors
    ///
    /// `EOPNOTSUPP` if the domain does not track dirty pages; what the driver returns.
    pub fn read_and_clear(&mut self, iova: usize, size: usize, flags: usize) -> Result {
        let f = self
            .domain
            .dirty_ops_ref()
            .and_then(|ops| ops.read_and_clear_dirty)
            .ok_or(EOPNOTSUPP)?;
        // SAFETY: The domain is valid and has this operation; `raw` names a bitmap (or
        // null, which drivers take as "clear only") and a gather of this domain, alive for
        // `'a` (type invariant).
        to_result(unsafe { f(self.domain.as_raw(), iova, size, flags, &mut self.raw) })
    }
}
