// SPDX-License-Identifier: GPL-2.0

//! Paging hardware page tables (HWPT): an iommu domain filled from an IOAS.
//!
//! # Lifetime
//!
//! A paging HWPT is built on one IOAS and holds it as a user (`IOMMU_DESTROY` of the IOAS
//! fails with `EBUSY` meanwhile). Its domain is added to the IOAS's IO page table, which
//! fills it, when the HWPT is created, and removed (unmapped, unpinned) when the HWPT is
//! dropped, before the domain is freed. Each attached device holds the HWPT as a user.
//!
//! An *automatic* HWPT is one iommufd made for a device attached to an IOAS: it is
//! destroyed when its last device detaches, as in C.

use kernel::{
    device::Device,
    iommu::domain::Domain,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
};

use crate::{
    object::{ObjRef, ObjectHeader},
    pagetable::Ioas,
};

/// A paging HWPT.
pub(crate) struct HwptPaging {
    header: ObjectHeader,
    /// The id in the context's table, set when published.
    id: Atomic<u32>,
    /// The IOAS whose mappings fill the domain.
    pub(crate) ioas: ObjRef<Ioas>,
    /// The domain.
    pub(crate) domain: Arc<Domain>,
    /// Made by iommufd for an attach to an IOAS; destroyed with its last device.
    pub(crate) auto_domain: bool,
    /// Whether the domain snoops CPU caches for all DMA (set once, never cleared).
    enforce_cache_coherency: Atomic<bool>,
    /// Whether the IOAS fills the domain ([`HwptPaging::fill`] succeeded).
    filled: Atomic<bool>,
    /// Whether the IOAS lists it among its automatic HWPTs.
    listed: Atomic<bool>,
}

crate::object::object_type!(HwptPaging, HwptPaging);

impl HwptPaging {
    /// A paging HWPT with a new domain for `dev` (allocation flags `flags`) on `ioas`. The
    /// domain is not filled yet ([`HwptPaging::fill`]).
    ///
    /// # Errors
    ///
    /// As the driver's domain allocation fails (`EOPNOTSUPP` for unsupported flags),
    /// `ENOMEM`.
    pub(crate) fn new(
        ioas: ObjRef<Ioas>,
        dev: &Device,
        flags: u32,
        auto_domain: bool,
    ) -> Result<Arc<Self>> {
        let domain = Arc::new(Domain::alloc_paging(dev, flags)?, GFP_KERNEL_ACCOUNT)?;
        Ok(Arc::new(
            Self {
                header: ObjectHeader::new(),
                id: Atomic::new(0),
                ioas,
                domain,
                auto_domain,
                enforce_cache_coherency: Atomic::new(false),
                filled: Atomic::new(false),
                listed: Atomic::new(false),
            },
            GFP_KERNEL_ACCOUNT,
        )?)
    }

    /// Fills the domain from the IOAS's mappings; from now on it follows them.
    ///
    /// # Errors
    ///
    /// As [`crate::pagetable::iopt::IoPageTable::add_domain`].
    pub(crate) fn fill(&self) -> Result {
        self.ioas.iopt.add_domain(&self.domain)?;
        self.filled.store(true, Relaxed);
        Ok(())
    }

    /// The id in the context's table.
    pub(crate) fn id(&self) -> u32 {
        self.id.load(Relaxed)
    }

    /// Records the id the HWPT is published under.
    pub(crate) fn set_id(&self, id: u32) {
        self.id.store(id, Relaxed);
    }

    /// Records that the IOAS lists the HWPT among its automatic ones (under their lock);
    /// dropping the HWPT then removes it from the list.
    pub(crate) fn set_listed(&self) {
        self.listed.store(true, Relaxed);
    }

    /// Makes the domain snoop CPU caches for every DMA, if it can; returns whether it does.
    pub(crate) fn enforce_cache_coherency(&self) -> bool {
        if self.enforce_cache_coherency.load(Relaxed) {
            return true;
        }
        let on = self.domain.enforce_cache_coherency();
        if on {
            self.enforce_cache_coherency.store(true, Relaxed);
        }
        on
    }
}

impl Drop for HwptPaging {
    fn drop(&mut self) {
        if self.filled.load(Relaxed) {
            self.ioas.iopt.remove_domain(&self.domain);
        }
        if self.listed.load(Relaxed) {
            self.ioas.forget_auto_hwpt(self.id());
        }
    }
}
