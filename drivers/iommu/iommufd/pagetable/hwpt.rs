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
    bindings,
    device::Device,
    iommu::domain::{device_capable, Domain, UserData},
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
};

use crate::{
    device::idev::IDevice,
    object::{ObjRef, ObjectHeader},
    pagetable::Ioas,
    uapi::{self, hwpt_flags},
    ucmd::UCmd,
};

/// A paging HWPT.
pub(crate) struct HwptPaging {
    header: ObjectHeader,
    /// The id in the context's table (reserved before the HWPT is built).
    id: u32,
    /// The IOAS whose mappings fill the domain.
    pub(crate) ioas: ObjRef<Ioas>,
    /// The domain.
    pub(crate) domain: Arc<Domain>,
    /// Made by iommufd for an attach to an IOAS; destroyed with its last device.
    pub(crate) auto_domain: bool,
    /// Whether the domain snoops CPU caches for all DMA (set once, never cleared).
    enforce_cache_coherency: Atomic<bool>,
    /// Whether the IOAS lists it among its automatic HWPTs.
    listed: Atomic<bool>,
}

crate::object::object_type!(HwptPaging, HwptPaging);

impl HwptPaging {
    /// A paging HWPT, to be published as `id`, with a new domain for `dev` on `ioas`,
    /// allocated by the device's IOMMU driver with the flags `flags`
    /// (`IOMMU_HWPT_ALLOC_*`) and the user's driver data `data`, and filled from the
    /// IOAS's mappings (from then on it follows them). With `coherent`, the domain is made
    /// to snoop CPU caches first: some IOMMUs set that per IOPTE, so it is decided before
    /// the first map.
    ///
    /// # Errors
    ///
    /// As the driver's domain allocation fails (`EOPNOTSUPP` for unsupported flags);
    /// `EINVAL` if `coherent` and the domain cannot enforce it; as
    /// [`crate::pagetable::iopt::IoPageTable::add_domain`] fails; `ENOMEM`. Nothing stays
    /// allocated or filled on error.
    pub(crate) fn new(
        ioas: ObjRef<Ioas>,
        id: u32,
        dev: &Device,
        flags: u32,
        data: Option<&UserData>,
        auto_domain: bool,
        coherent: bool,
    ) -> Result<Arc<Self>> {
        let domain = Domain::alloc_paging_user(dev, flags & !hwpt_flags::FAULT_ID_VALID, data)?;
        let domain = Arc::new(domain, GFP_KERNEL_ACCOUNT)?;
        if coherent && !domain.enforce_cache_coherency() {
            // A driver that reports the capability enforces it on its new domains.
            kernel::warn_on!(true);
            return Err(EINVAL);
        }
        ioas.iopt.add_domain(&domain)?;
        // From here on the HWPT's drop takes the domain back out of the IOAS, also when
        // `Arc::new` fails and drops it.
        Ok(Arc::new(
            Self {
                header: ObjectHeader::new(),
                id,
                ioas,
                domain,
                auto_domain,
                enforce_cache_coherency: Atomic::new(coherent),
                listed: Atomic::new(false),
            },
            GFP_KERNEL_ACCOUNT,
        )?)
    }

    /// The id in the context's table.
    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    /// Records that the IOAS lists the HWPT among its automatic ones (under their lock);
    /// dropping the HWPT then removes it from the list.
    pub(crate) fn set_listed(&self) {
        self.listed.store(true, Relaxed);
    }

    /// Whether the domain snoops CPU caches for every DMA (set by
    /// [`HwptPaging::enforce_cache_coherency`]).
    pub(crate) fn coherent(&self) -> bool {
        self.enforce_cache_coherency.load(Relaxed)
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
        self.ioas.iopt.remove_domain(&self.domain);
        if self.listed.load(Relaxed) {
            self.ioas.forget_auto_hwpt(self.id());
        }
    }
}

/// `IOMMU_HWPT_ALLOC`: allocates a paging HWPT on the IOAS `pt_id` for the device `dev_id`,
/// with the flags and driver data given, fills it, and answers with its id. The HWPT is
/// not automatic: it stays until destroyed, and devices attach to it by id.
///
/// # Errors
///
/// `EOPNOTSUPP` for a non-zero reserved field, unknown flags, flags the driver or device
/// does not support, or `FAULT_ID_VALID` with `NEST_PARENT`; `EINVAL` for data without a
/// type or the reverse, a `pt_id` that is not an IOAS, or data the driver refuses;
/// `ENOENT` for an unknown device (or fault queue); as filling fails (`ENOMEM`, also over
/// `RLIMIT_MEMLOCK`, `EADDRINUSE`); `EFAULT`.
pub(crate) fn alloc(ucmd: &UCmd<'_>, cmd: &mut uapi::HwptAlloc) -> Result {
    const VALID: u32 = hwpt_flags::NEST_PARENT
        | hwpt_flags::DIRTY_TRACKING
        | hwpt_flags::FAULT_ID_VALID
        | hwpt_flags::PASID;
    if cmd.__reserved != 0 {
        return Err(EOPNOTSUPP);
    }
    let no_data = cmd.data_type == hwpt_flags::DATA_NONE;
    if no_data != (cmd.data_len == 0) {
        return Err(EINVAL);
    }
    let objects = &ucmd.ctx.objects;
    let idev = objects.get::<IDevice>(cmd.dev_id)?;
    // Nested HWPTs (on a paging HWPT or a vIOMMU) are not provided yet.
    let ioas = objects.get::<Ioas>(cmd.pt_id).map_err(|_| {
        if objects.get::<HwptPaging>(cmd.pt_id).is_ok() {
            EOPNOTSUPP
        } else {
            EINVAL
        }
    })?;
    let flags = cmd.flags;
    if flags & !VALID != 0 {
        return Err(EOPNOTSUPP);
    }
    if flags & hwpt_flags::DIRTY_TRACKING != 0
        && !device_capable(&idev.dev, bindings::iommu_cap_IOMMU_CAP_DIRTY_TRACKING)
    {
        return Err(EOPNOTSUPP);
    }
    if flags & hwpt_flags::FAULT_ID_VALID != 0 && flags & hwpt_flags::NEST_PARENT != 0 {
        return Err(EOPNOTSUPP);
    }
    let data = (!no_data).then_some(UserData {
        data_type: cmd.data_type,
        uptr: cmd.data_uptr as usize,
        len: cmd.data_len as usize,
    });
    // Serialises with automatic attaches to the IOAS, as C's `ioas->mutex`.
    let _guard = ioas.auto_hwpts.lock();
    let reservation = objects.reserve()?;
    let id = reservation.id();
    let hwpt = HwptPaging::new(
        ioas.clone(),
        id,
        &idev.dev,
        flags,
        data.as_ref(),
        false,
        idev.enforce_cache_coherency(),
    )?;
    if flags & hwpt_flags::FAULT_ID_VALID != 0 {
        // No fault queue objects exist yet: the id names none.
        return Err(ENOENT);
    }
    cmd.out_hwpt_id = id;
    let prepared = reservation.prepare(hwpt)?;
    ucmd.respond(cmd)?;
    prepared.publish();
    Ok(())
}
