// SPDX-License-Identifier: GPL-2.0

//! The structures IOMMU drivers embed, in C's layout.
//!
//! A driver that backs a vIOMMU or a HW queue declares its own structure that starts with
//! C's `struct iommufd_viommu` or `struct iommufd_hw_queue` (include/linux/iommufd.h) and
//! reports its size; iommufd allocates it zeroed, fills the core part and hands it to the
//! driver. [`DriverStruct`] owns such an allocation; one word before the structure points
//! back to the Rust object that owns it, so that a call from the driver that names the
//! structure (`iommufd_hw_queue_depend`, `iommufd_viommu_report_event`, ...) finds its
//! object without a lookup.
//!
//! This is the module's C-ABI edge with IOMMU drivers: each structure has its file, which
//! fills the core part and calls the driver's operations on it, and the layers hold the
//! safe types of those files:
//!
//! - [`viommu`]: `struct iommufd_viommu` and the driver's `struct iommufd_viommu_ops`;
//! - [`vdevice`]: `struct iommufd_vdevice`;
//! - [`hw_queue`]: `struct iommufd_hw_queue`.

pub(crate) mod hw_queue;
pub(crate) mod vdevice;
pub(crate) mod viommu;

use core::{alloc::Layout, marker::PhantomData, ptr::NonNull};
use kernel::{
    alloc::{
        allocator::Kmalloc,
        flags::{__GFP_ZERO, GFP_KERNEL_ACCOUNT},
        Allocator, NumaNode,
    },
    prelude::*,
    sync::Arc,
};

/// Room before the driver's structure, for the back-pointer: a cache line, so the
/// driver's structure keeps the alignment `kmalloc` gives.
const HEADER: usize = 64;

/// A driver's structure that starts with the C type `T`, owned by a Rust object `O`.
///
/// # Invariants
///
/// `ptr` points `HEADER` bytes into a zeroed `Kmalloc` allocation of `layout` (`HEADER +
/// size` bytes, `size >= size_of::<T>()`) this object owns. The first word of the
/// allocation is null or points to the `O` that owns this object.
pub(crate) struct DriverStruct<T, O> {
    ptr: NonNull<T>,
    layout: Layout,
    _owner: PhantomData<*const O>,
}

// SAFETY: The driver's structure is not tied to a thread; drivers synchronise their own
// state in it.
unsafe impl<T, O> Send for DriverStruct<T, O> {}
// SAFETY: As above; through `&DriverStruct` only the driver's callbacks run.
unsafe impl<T, O> Sync for DriverStruct<T, O> {}

impl<T, O> DriverStruct<T, O> {
    /// A zeroed structure of `size` bytes for the driver.
    ///
    /// # Errors
    ///
    /// `EOPNOTSUPP` (a driver bug, warned about) if `size` is smaller than `T`; `ENOMEM`.
    fn alloc(size: usize) -> Result<Self> {
        if size < core::mem::size_of::<T>() {
            kernel::warn_on!(true);
            return Err(EOPNOTSUPP);
        }
        let total = HEADER.checked_add(size).ok_or(ENOMEM)?;
        let layout = Layout::from_size_align(total, HEADER).map_err(|_| ENOMEM)?;
        let base = Kmalloc::alloc(layout, GFP_KERNEL_ACCOUNT | __GFP_ZERO, NumaNode::NO_NODE)?;
        // INVARIANT: `HEADER` bytes into a zeroed allocation of `layout`.
        // SAFETY: `HEADER < total`: the offset stays in the allocation, so not null.
        let ptr = unsafe { NonNull::new_unchecked(base.cast::<u8>().as_ptr().add(HEADER).cast()) };
        Ok(Self {
            ptr,
            layout,
            _owner: PhantomData,
        })
    }

    /// The structure, for the driver.
    fn as_raw(&self) -> *mut T {
        self.ptr.as_ptr()
    }

    /// The structure's address, never null.
    fn ptr(&self) -> NonNull<T> {
        self.ptr
    }

    /// The core part.
    fn raw(&self) -> &T {
        // SAFETY: Valid while owned (type invariant).
        unsafe { self.ptr.as_ref() }
    }

    /// The core part, to fill before the driver sees it.
    fn raw_mut(&mut self) -> &mut T {
        // SAFETY: Valid while owned (type invariant); `&mut self` is exclusive.
        unsafe { self.ptr.as_mut() }
    }

    /// The first word of the allocation.
    fn back_pointer(&self) -> *mut *const O {
        // SAFETY: The allocation starts `HEADER` bytes before `ptr` (type invariant) and is
        // aligned for a pointer.
        unsafe { self.ptr.as_ptr().cast::<u8>().sub(HEADER).cast() }
    }

    /// Records `owner` as the object that owns this structure.
    ///
    /// # Safety
    ///
    /// `owner` owns this structure (as a field) and stays at its address while it lives.
    unsafe fn set_owner(&self, owner: *const O) {
        // SAFETY: The slot is ours (type invariant).
        unsafe { *self.back_pointer() = owner };
    }

    /// The object that owns the driver structure `raw`.
    ///
    /// # Safety
    ///
    /// `raw` is the structure of a live `DriverStruct<T, O>` whose owner was set, and the
    /// owner stays alive for `'a`.
    unsafe fn owner_of<'a>(raw: *const T) -> &'a O {
        // SAFETY: By the caller's guarantee the back-pointer holds the live owner.
        unsafe { &**raw.cast::<u8>().sub(HEADER).cast::<*const O>() }
    }
}

impl<T, O> Drop for DriverStruct<T, O> {
    fn drop(&mut self) {
        // SAFETY: The allocation of `layout` (type invariant) is freed once, here.
        unsafe {
            Kmalloc::free(
                NonNull::new_unchecked(self.back_pointer().cast()),
                self.layout,
            )
        };
    }
}

/// An object that owns a driver structure as one of its fields, and is found from it.
///
/// # Safety
///
/// [`Owner::driver_struct`] returns a field of `self` that is never moved out of it.
pub(crate) unsafe trait Owner<T>: Sized {
    /// The driver structure `self` owns.
    fn driver_struct(&self) -> &DriverStruct<T, Self>;
}

/// Records `owner`, which an [`Arc`] keeps at its address, as the object its driver
/// structure belongs to, before the driver sees the structure (the driver's calls that
/// name it find `owner`).
pub(crate) fn set_owner<T, O: Owner<T>>(owner: &Arc<O>) {
    let owner: &O = owner;
    // SAFETY: The structure is a field of `owner` (`Owner`), which the `Arc` keeps at this
    // address until it is dropped, with the field.
    unsafe { owner.driver_struct().set_owner(owner) };
}
