// SPDX-License-Identifier: GPL-2.0

//! Regions of `/dev/iommu` that user space may `mmap()`: memory or MMIO an IOMMU driver
//! exposes for one of its objects (a vIOMMU's page of shared state, say), at an offset
//! of the file the driver reports to user space (C's `iommufd_alloc_mmap`).
//!
//! Offsets are allocated from one page up (the first page is never used, so that 0 is not
//! a valid offset). A mapping must name a region exactly (its offset and length) and be
//! shared and not executable.
//!
//! # Lifetime
//!
//! The driver registers a region for an object and removes it when the object is
//! destroyed. While a mapping of it exists, the mapping (each copy after fork or split)
//! holds a user of the object, so the object cannot be destroyed (`EBUSY`).

use kernel::{
    mm::{
        pfnmap::{HolderOps, VmaHolder},
        virt::{flags, VmaNew},
    },
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    sync::Mutex,
};

use crate::object::ObjectHeader;

/// One region.
struct Region {
    /// Offset in the file, in bytes (page aligned, at least one page).
    offset: usize,
    /// Length in bytes (page aligned).
    length: usize,
    /// The physical address mapped.
    phys: u64,
    /// The object the region belongs to.
    owner: *const ObjectHeader,
}

/// The regions of one context.
///
/// # Invariants
///
/// Each region's `owner` is live while the region is listed: its driver removes the
/// region before the object is freed.
#[pin_data]
pub(crate) struct MmapTable {
    #[pin]
    regions: Mutex<KVec<Region>>,
}

// SAFETY: The owners are objects, which are `Sync`; the pointers are used under the lock
// while their regions are listed (type invariant).
unsafe impl Send for MmapTable {}
// SAFETY: As above.
unsafe impl Sync for MmapTable {}

impl VmaHolder for ObjectHeader {
    fn hold(&self) {
        self.add_user();
    }

    fn release(&self) {
        self.put_user();
    }
}

/// The operations of mappings of regions: each copy holds a user of the region's owner.
static HOLDER_OPS: HolderOps<ObjectHeader> = HolderOps::new();

impl MmapTable {
    /// An empty table.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            regions <- new_mutex!(KVec::new()),
        })
    }

    /// Registers `length` bytes of physical memory at `phys` for the object `owner`;
    /// returns the offset user space maps it at.
    ///
    /// # Errors
    ///
    /// `EINVAL` for an unaligned address or length, or a zero length; `ENOSPC` if no room
    /// is left; `ENOMEM`.
    ///
    /// # Safety
    ///
    /// `owner` stays live until the region is removed with [`MmapTable::remove`].
    pub(crate) unsafe fn add(
        &self,
        owner: &ObjectHeader,
        phys: u64,
        length: usize,
    ) -> Result<usize> {
        if phys % PAGE_SIZE as u64 != 0 || length == 0 || length % PAGE_SIZE != 0 {
            return Err(EINVAL);
        }
        let mut regions = self.regions.lock();
        // The lowest gap from one page up (the list is sorted by offset).
        let mut offset = PAGE_SIZE;
        let mut at = 0;
        for (i, r) in regions.iter().enumerate() {
            if offset.checked_add(length).ok_or(ENOSPC)? <= r.offset {
                break;
            }
            offset = r.offset + r.length;
            at = i + 1;
        }
        offset.checked_add(length).ok_or(ENOSPC)?;
        regions.reserve(1, GFP_KERNEL_ACCOUNT)?;
        // INVARIANT: By the caller's guarantee the owner outlives the region.
        let region = Region {
            offset,
            length,
            phys,
            owner,
        };
        // Room was reserved and `at <= len`.
        regions
            .insert_within_capacity(at, region)
            .map_err(|_| ENOMEM)?;
        Ok(offset)
    }

    /// Removes the region of `owner` at `offset`.
    pub(crate) fn remove(&self, owner: &ObjectHeader, offset: usize) {
        let mut regions = self.regions.lock();
        let before = regions.len();
        regions.retain(|r| !(r.offset == offset && core::ptr::eq(r.owner, owner)));
        kernel::warn_on!(regions.len() + 1 != before);
    }

    /// Maps the region `vma` names (C's `iommufd_fops_mmap`).
    ///
    /// # Errors
    ///
    /// `EINVAL` for an unaligned length or a private mapping; `EPERM` for an executable
    /// one; `ENXIO` if no region starts at the offset with that length, or its owner is
    /// being destroyed; as `remap_pfn_range()` fails.
    pub(crate) fn mmap(&self, vma: &VmaNew) -> Result {
        let length = vma.end() - vma.start();
        if length % PAGE_SIZE != 0 || vma.flags() & flags::SHARED == 0 {
            return Err(EINVAL);
        }
        if vma.flags() & flags::EXEC != 0 {
            return Err(EPERM);
        }
        let offset = vma.pgoff().checked_mul(PAGE_SIZE).ok_or(ENXIO)?;
        let (owner, phys) = {
            let regions = self.regions.lock();
            let r = regions
                .iter()
                .find(|r| r.offset == offset && r.length == length)
                .ok_or(ENXIO)?;
            // SAFETY: A listed region's owner is live (type invariant).
            let owner = unsafe { &*r.owner };
            // A mapping holds the owner; an owner being destroyed cannot be held.
            if !owner.try_add_user() {
                return Err(ENXIO);
            }
            (owner, r.phys)
        };
        let pfn = (phys / PAGE_SIZE as u64) as usize;
        // SAFETY: The driver registered the range as user-mappable for its object, which
        // the mapping holds (below) until unmapped.
        if let Err(e) = unsafe { vma.remap_pfn_range_noncached(pfn, length) } {
            owner.put_user();
            return Err(e);
        }
        // SAFETY: Each copy of the mapping holds a user of the owner, so it lives while held.
        unsafe { vma.set_holder(&HOLDER_OPS, owner) };
        Ok(())
    }
}
