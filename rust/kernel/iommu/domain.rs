// SPDX-License-Identifier: GPL-2.0

//! IOMMU domains: the IO page tables of the iommu core.
//!
//! C header: [`include/linux/iommu.h`](srctree/include/linux/iommu.h)

use crate::{
    alloc::Flags,
    bindings,
    device::Device,
    error::{from_err_ptr, to_result, Result},
    sync::aref::ARef,
};
use core::ptr::NonNull;

/// The access bits of a mapping (`IOMMU_READ`, `IOMMU_WRITE`, ...).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct Prot(i32);

impl Prot {
    /// Devices may read.
    pub const READ: Prot = Prot(bindings::IOMMU_READ as i32);
    /// Devices may write.
    pub const WRITE: Prot = Prot(bindings::IOMMU_WRITE as i32);
    /// Accesses snoop the CPU caches (the domain enforces cache coherency).
    pub const CACHE: Prot = Prot(bindings::IOMMU_CACHE as i32);

    /// No access.
    pub const fn empty() -> Self {
        Prot(0)
    }

    /// Both sets of bits.
    pub const fn with(self, other: Prot) -> Self {
        Prot(self.0 | other.0)
    }

    /// The raw bits.
    pub const fn bits(self) -> i32 {
        self.0
    }
}

/// The range of IOVA a domain can translate (`struct iommu_domain_geometry`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Aperture {
    /// The first IOVA that can be mapped.
    pub start: u64,
    /// The last IOVA that can be mapped.
    pub end: u64,
    /// Whether DMA outside the aperture is blocked.
    pub force: bool,
}

/// An IOMMU domain this object owns.
///
/// `iommu_map` and `iommu_unmap` may run concurrently on one domain for disjoint IOVA; the
/// owner serialises operations on overlapping IOVA.
///
/// # Invariants
///
/// `ptr` points to a valid `struct iommu_domain` this object owns: nothing else frees it,
/// and dropping the object frees it with `iommu_domain_free`.
pub struct Domain {
    ptr: NonNull<bindings::iommu_domain>,
}

// SAFETY: A domain is not tied to the thread that allocated it; the iommu core and the
// drivers may free it from any thread.
unsafe impl Send for Domain {}

// SAFETY: The operations provided through `&Domain` (map, unmap, lookups) may run
// concurrently from several threads for disjoint IOVA, which is the iommu core's contract;
// the fields read are set once at allocation.
unsafe impl Sync for Domain {}

impl Domain {
    /// Allocates a paging domain (`IOMMU_DOMAIN_UNMANAGED`) for `dev` with the allocation
    /// flags `flags` (`IOMMU_HWPT_ALLOC_*`).
    ///
    /// # Errors
    ///
    /// What the driver returns: `EOPNOTSUPP` for flags it does not support, `ENOMEM`, ...
    pub fn alloc_paging(dev: &Device, flags: u32) -> Result<Self> {
        // SAFETY: `dev` is a valid device for the call.
        let ptr = from_err_ptr(unsafe {
            bindings::iommu_paging_domain_alloc_flags(dev.as_raw(), flags)
        })?;
        // SAFETY: A successful allocation returns a valid domain, now ours.
        Ok(unsafe { Self::from_raw(ptr) })
    }

    /// Takes ownership of the domain at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` points to a valid, fully set up `struct iommu_domain` the caller owns and gives
    /// to the new object.
    pub unsafe fn from_raw(ptr: *mut bindings::iommu_domain) -> Self {
        // INVARIANT: The caller gives us a valid domain it owned.
        Self {
            // SAFETY: A valid domain pointer is not null.
            ptr: unsafe { NonNull::new_unchecked(ptr) },
        }
    }

    /// The domain, for C.
    pub fn as_raw(&self) -> *mut bindings::iommu_domain {
        self.ptr.as_ptr()
    }

    fn raw(&self) -> &bindings::iommu_domain {
        // SAFETY: By the type invariant the domain is valid while `self` lives.
        unsafe { self.ptr.as_ref() }
    }

    /// The domain type (`IOMMU_DOMAIN_*`).
    pub fn domain_type(&self) -> u32 {
        self.raw().type_
    }

    /// The page sizes the domain can map, as a bitmap.
    pub fn pgsize_bitmap(&self) -> usize {
        self.raw().pgsize_bitmap
    }

    /// The IOVA the domain can translate.
    pub fn aperture(&self) -> Aperture {
        let g = &self.raw().geometry;
        Aperture {
            start: g.aperture_start,
            end: g.aperture_end,
            force: g.force_aperture,
        }
    }

    /// The driver that allocated the domain, to compare with other domains or devices.
    pub fn owner(&self) -> *const bindings::iommu_ops {
        self.raw().owner
    }

    /// The domain's operations, to compare with a driver's.
    pub fn ops(&self) -> *const bindings::iommu_domain_ops {
        self.raw().ops
    }

    /// Whether the domain has dirty tracking operations.
    pub fn has_dirty_ops(&self) -> bool {
        !self.raw().dirty_ops.is_null()
    }

    /// Makes every DMA through the domain snoop the CPU caches; returns whether the domain
    /// can (and now does).
    pub fn enforce_cache_coherency(&self) -> bool {
        let ops = self.raw().ops;
        if ops.is_null() {
            return false;
        }
        // SAFETY: A domain's ops are valid while the domain lives.
        let Some(f) = (unsafe { (*ops).enforce_cache_coherency }) else {
            return false;
        };
        // SAFETY: The domain is valid; the callback is the driver's own for it.
        unsafe { f(self.as_raw()) }
    }

    /// Maps `size` bytes from `paddr` at `iova` with the access `prot`, allocating page
    /// table memory with `gfp`.
    ///
    /// # Errors
    ///
    /// `EINVAL` for a misaligned or out-of-range request, `ENOMEM`; nothing stays mapped on
    /// error.
    pub fn map(&self, iova: usize, paddr: u64, size: usize, prot: Prot, gfp: Flags) -> Result {
        // SAFETY: The domain is valid; `iommu_map` checks the range against it.
        to_result(unsafe {
            bindings::iommu_map(self.as_raw(), iova, paddr, size, prot.bits(), gfp.as_raw())
        })
    }

    /// Unmaps `size` bytes at `iova`; returns the bytes unmapped.
    pub fn unmap(&self, iova: usize, size: usize) -> usize {
        // SAFETY: The domain is valid; `iommu_unmap` checks the range against it.
        unsafe { bindings::iommu_unmap(self.as_raw(), iova, size) }
    }

    /// The physical address `iova` translates to, 0 if none.
    pub fn iova_to_phys(&self, iova: u64) -> u64 {
        // SAFETY: The domain is valid.
        unsafe { bindings::iommu_iova_to_phys(self.as_raw(), iova) }
    }
}

impl Drop for Domain {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own the domain, and it is freed only here.
        unsafe { bindings::iommu_domain_free(self.as_raw()) };
    }
}

/// Whether the IOMMU that translates for `dev` has the capability `cap` (`IOMMU_CAP_*`).
pub fn device_capable(dev: &Device, cap: bindings::iommu_cap) -> bool {
    // SAFETY: `dev` is valid for the call.
    unsafe { bindings::device_iommu_capable(dev.as_raw(), cap) }
}

/// The DMA ownership of a device claimed by a user other than the kernel's DMA API (a
/// driver handing the device to user space); released on drop.
///
/// # Invariants
///
/// `dev`'s DMA ownership was claimed by this object with `iommu_device_claim_dma_owner`.
pub struct DmaOwner {
    dev: ARef<Device>,
}

impl DmaOwner {
    /// Claims the DMA ownership of `dev` for `owner`. Devices of one group may share it
    /// only with the same `owner` token.
    ///
    /// # Errors
    ///
    /// `EBUSY` if the group is owned by the DMA API or another owner, `ENODEV` without an
    /// IOMMU group.
    pub fn claim(dev: &Device, owner: *mut core::ffi::c_void) -> Result<Self> {
        // SAFETY: `dev` is valid; `owner` is only compared, never dereferenced.
        to_result(unsafe { bindings::iommu_device_claim_dma_owner(dev.as_raw(), owner) })?;
        // INVARIANT: The claim succeeded.
        Ok(Self { dev: dev.into() })
    }
}

impl Drop for DmaOwner {
    fn drop(&mut self) {
        // SAFETY: By the type invariant this object holds the claim, released only here.
        unsafe { bindings::iommu_device_release_dma_owner(self.dev.as_raw()) };
    }
}
