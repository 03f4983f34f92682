// SPDX-License-Identifier: GPL-2.0

//! Mapping physical ranges into user space: a driver's `mmap` of MMIO or of kernel pages
//! it owns (`io_remap_pfn_range`), with callbacks that follow the mapping's copies.
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h).

use crate::{bindings, error::to_result, mm::virt::VmaNew, prelude::*};
use core::marker::PhantomData;

/// What a mapping made by [`VmaNew::remap_pfn_range_noncached`] keeps alive: the VMA
/// holds it (once per copy of the VMA, after fork or split) from [`VmaNew::set_holder`]
/// until the copy is unmapped.
pub trait VmaHolder: Sync {
    /// A new copy of the VMA holds `self`.
    fn hold(&self);
    /// A copy of the VMA was unmapped.
    fn release(&self);
}

/// The VMA operations that keep a [`VmaHolder`] `T` held by each copy of a VMA.
pub struct HolderOps<T: VmaHolder> {
    ops: bindings::vm_operations_struct,
    _p: PhantomData<T>,
}

// SAFETY: The table is never written after its constant initialisation.
unsafe impl<T: VmaHolder> Sync for HolderOps<T> {}

impl<T: VmaHolder> HolderOps<T> {
    /// The operations: `open` holds, `close` releases.
    pub const fn new() -> Self {
        // SAFETY: All-zero is a valid `vm_operations_struct`: every callback absent.
        let mut ops: bindings::vm_operations_struct = unsafe { core::mem::zeroed() };
        ops.open = Some(Self::open);
        ops.close = Some(Self::close);
        Self {
            ops,
            _p: PhantomData,
        }
    }

    /// # Safety
    ///
    /// Called by the mm with a copy of a VMA whose private data is a held `T`.
    unsafe extern "C" fn open(vma: *mut bindings::vm_area_struct) {
        // SAFETY: The private data was set by `set_holder` to a `T` that stays valid while
        // any copy of the VMA holds it.
        unsafe { &*(*vma).vm_private_data.cast::<T>() }.hold();
    }

    /// # Safety
    ///
    /// Called by the mm when a VMA whose private data is a held `T` is unmapped.
    unsafe extern "C" fn close(vma: *mut bindings::vm_area_struct) {
        // SAFETY: As in `open`; this copy's hold is still there.
        unsafe { &*(*vma).vm_private_data.cast::<T>() }.release();
    }
}

impl<T: VmaHolder> Default for HolderOps<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl VmaNew {
    /// The offset the mapping was asked at, in pages (`vm_pgoff`).
    pub fn pgoff(&self) -> usize {
        // SAFETY: The VMA is valid during its set up; `vm_pgoff` is a plain field.
        unsafe { (*self.as_ptr()).vm_pgoff }
    }

    /// Maps `len` bytes of physical memory from `pfn` at the start of the VMA, uncached
    /// (`io_remap_pfn_range()` with `pgprot_noncached()`), and resets the offset to 0.
    ///
    /// # Errors
    ///
    /// `EINVAL` if `len` is not the VMA's length; as `remap_pfn_range()` fails.
    ///
    /// # Safety
    ///
    /// The physical range must be memory or MMIO that user space may access, and stay so
    /// while the mapping exists (see [`VmaNew::set_holder`]).
    pub unsafe fn remap_pfn_range_noncached(&self, pfn: usize, len: usize) -> Result {
        if self.end() - self.start() != len {
            return Err(EINVAL);
        }
        let vma = self.as_ptr();
        // SAFETY: The VMA is being set up by its `mmap` callback, which may change its
        // page protection and offset and fill it; the range is the caller's to map.
        to_result(unsafe {
            (*vma).vm_pgoff = 0;
            (*vma).vm_page_prot = bindings::pgprot_noncached((*vma).vm_page_prot);
            bindings::io_remap_pfn_range(vma, self.start(), pfn, len, (*vma).vm_page_prot)
        })
    }

    /// Makes the VMA (and each copy of it) hold `holder` until unmapped: the caller has
    /// taken the first hold.
    ///
    /// # Safety
    ///
    /// `holder` must stay valid while it is held.
    pub unsafe fn set_holder<T: VmaHolder>(&self, ops: &'static HolderOps<T>, holder: &T) {
        let vma = self.as_ptr();
        // SAFETY: The VMA is being set up by its `mmap` callback, which may set its
        // operations and private data; by the caller's guarantee `holder` outlives them.
        unsafe {
            (*vma).vm_private_data = core::ptr::from_ref(holder).cast_mut().cast();
            (*vma).vm_ops = &ops.ops;
        }
    }
}
