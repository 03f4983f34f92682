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
    iommu::domain::{device_capable, Cap, Domain, UserData, UserDataArray},
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
};

use crate::{
    device::idev::IDevice,
    object::{ObjRef, ObjectHeader, ObjectTable, ObjectType},
    pagetable::{eventq::fault::Fault, nested::HwptNested, viommu::Viommu, Ioas},
    system::msi::MsiIds,
    uapi::{self, hwpt_flags},
    ucmd::UCmd,
};

/// A HWPT of either kind, as devices attach to it.
#[derive(Clone)]
pub(crate) enum Hwpt {
    /// A paging HWPT, filled from an IOAS.
    Paging(Arc<HwptPaging>),
    /// A nested HWPT on a paging parent.
    Nested(Arc<HwptNested>),
}

impl Hwpt {
    /// Looks up the HWPT `id`, of either kind.
    ///
    /// # Errors
    ///
    /// `ENOENT` if there is no such object, `EINVAL` if it is not a HWPT. The caller holds
    /// the returned user until it drops the [`HwptRef`].
    pub(crate) fn get(objects: &ObjectTable, id: u32) -> Result<HwptRef> {
        if let Ok(h) = objects.get::<HwptPaging>(id) {
            return Ok(HwptRef::Paging(h));
        }
        if let Ok(h) = objects.get::<HwptNested>(id) {
            return Ok(HwptRef::Nested(h));
        }
        Err(objects.kind_error(id))
    }

    /// Its id in the context's table.
    pub(crate) fn id(&self) -> u32 {
        match self {
            Hwpt::Paging(h) => h.id(),
            Hwpt::Nested(h) => h.id(),
        }
    }

    /// The domain.
    pub(crate) fn domain(&self) -> &Domain {
        match self {
            Hwpt::Paging(h) => &h.domain,
            Hwpt::Nested(h) => &h.domain,
        }
    }

    /// The domain, to keep while attached.
    pub(crate) fn domain_arc(&self) -> &Arc<Domain> {
        match self {
            Hwpt::Paging(h) => &h.domain,
            Hwpt::Nested(h) => &h.domain,
        }
    }

    /// The object's header (its users).
    pub(crate) fn header(&self) -> &ObjectHeader {
        match self {
            Hwpt::Paging(h) => h.header(),
            Hwpt::Nested(h) => h.header(),
        }
    }

    /// Whether it may serve PASIDs (`IOMMU_HWPT_ALLOC_PASID`).
    pub(crate) fn pasid_compat(&self) -> bool {
        match self {
            Hwpt::Paging(h) => h.pasid_compat,
            Hwpt::Nested(h) => h.pasid_compat,
        }
    }

    /// The fault queue of its IO page faults.
    pub(crate) fn fault(&self) -> Option<&Arc<Fault>> {
        match self {
            Hwpt::Paging(h) => h.fault.as_ref().map(|f| f.arc()),
            Hwpt::Nested(h) => h.fault.as_ref().map(|f| f.arc()),
        }
    }

    /// The paging HWPT the device's DMA is translated through: itself, or its nest parent
    /// (C's `find_hwpt_paging()`).
    pub(crate) fn paging(&self) -> &HwptPaging {
        match self {
            Hwpt::Paging(h) => h,
            Hwpt::Nested(h) => h.parent(),
        }
    }

    /// The IOAS whose mappings the device's DMA reaches through the HWPT (that of
    /// [`Hwpt::paging`]).
    pub(crate) fn ioas(&self) -> &Ioas {
        &self.paging().ioas
    }

    /// Whether both are the same HWPT.
    pub(crate) fn ptr_eq(&self, other: &Hwpt) -> bool {
        self.domain().is(other.domain())
    }
}

/// A looked-up HWPT of either kind (a user of it while held).
pub(crate) enum HwptRef {
    /// A paging HWPT.
    Paging(ObjRef<HwptPaging>),
    /// A nested HWPT.
    Nested(ObjRef<HwptNested>),
}

impl HwptRef {
    /// The HWPT itself, to keep.
    pub(crate) fn hwpt(&self) -> Hwpt {
        match self {
            HwptRef::Paging(h) => Hwpt::Paging(h.arc().clone()),
            HwptRef::Nested(h) => Hwpt::Nested(h.arc().clone()),
        }
    }
}

/// Validates the fault queue of a HWPT allocation with `IOMMU_HWPT_FAULT_ID_VALID`.
///
/// # Errors
///
/// `ENOENT` if `fault_id` names no fault queue.
fn fault_of(ucmd: &UCmd<'_>, flags: u32, fault_id: u32) -> Result<Option<ObjRef<Fault>>> {
    if flags & hwpt_flags::FAULT_ID_VALID == 0 {
        return Ok(None);
    }
    Ok(Some(ucmd.ctx.objects.get::<Fault>(fault_id)?))
}

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
    /// Whether the domain snoops CPU caches for all DMA: enforced when it was allocated
    /// for a device that needs it, and never changed afterwards (as C).
    enforce_cache_coherency: bool,
    /// Whether the IOAS lists it among its automatic HWPTs.
    listed: Atomic<bool>,
    /// Whether [`HwptPaging::fill`] added the domain to the IOAS.
    filled: Atomic<bool>,
    /// Allocated with `IOMMU_HWPT_ALLOC_PASID`: it may serve PASIDs.
    pub(crate) pasid_compat: bool,
    /// Allocated with `IOMMU_HWPT_ALLOC_NEST_PARENT`: nested HWPTs may use it.
    pub(crate) nest_parent: bool,
    /// The fault queue of its IO page faults (a user of it).
    pub(crate) fault: Option<ObjRef<Fault>>,
    /// The context's MSI doorbells its domain maps (`crate::system::msi`).
    pub(crate) sw_msi_present: MsiIds,
}

crate::object::object_type!(HwptPaging, HwptPaging);

/// How a paging HWPT is made ([`HwptPaging::new`]).
pub(crate) struct PagingSpec<'a> {
    /// `IOMMU_HWPT_ALLOC_*` flags, for the driver and iommufd.
    pub(crate) flags: u32,
    /// The user's driver data.
    pub(crate) data: Option<&'a UserData>,
    /// Made by iommufd for an attach to the IOAS (destroyed with its last device).
    pub(crate) auto_domain: bool,
    /// Make the domain snoop CPU caches before the first map: some IOMMUs set that per
    /// IOPTE.
    pub(crate) coherent: bool,
    /// The fault queue of its IO page faults.
    pub(crate) fault: Option<ObjRef<Fault>>,
}

impl HwptPaging {
    /// A paging HWPT, to be published as `id`, with a new domain for `dev` on `ioas`,
    /// allocated by the device's IOMMU driver as `spec` says, and filled from the IOAS's
    /// mappings (from then on it follows them).
    ///
    /// # Errors
    ///
    /// As [`HwptPaging::new_unfilled`] and [`HwptPaging::fill`] fail. Nothing stays
    /// allocated or filled on error.
    pub(crate) fn new(
        ioas: ObjRef<Ioas>,
        id: u32,
        dev: &Device,
        spec: PagingSpec<'_>,
    ) -> Result<Arc<Self>> {
        let hwpt = Self::new_unfilled(ioas, id, dev, spec)?;
        hwpt.fill()?;
        Ok(hwpt)
    }

    /// A paging HWPT as [`HwptPaging::new`] makes it, with its domain still empty and not
    /// following the IOAS until [`HwptPaging::fill`]. An automatic HWPT made for an attach
    /// takes the device first and is filled after, as in C (some drivers finish a domain
    /// only when a device attaches).
    ///
    /// # Errors
    ///
    /// As the driver's domain allocation fails (`EOPNOTSUPP` for unsupported flags);
    /// `EINVAL` if coherency is asked and the domain cannot enforce it; `ENOMEM`.
    pub(crate) fn new_unfilled(
        ioas: ObjRef<Ioas>,
        id: u32,
        dev: &Device,
        spec: PagingSpec<'_>,
    ) -> Result<Arc<Self>> {
        let PagingSpec {
            flags,
            data,
            auto_domain,
            coherent,
            fault,
        } = spec;
        let mut domain = Domain::alloc_paging_user(dev, flags & !hwpt_flags::FAULT_ID_VALID, data)?;
        if fault.is_some() {
            domain.set_iopf_handler::<crate::system::group::HandleData>();
        }
        let domain = Arc::new(domain, GFP_KERNEL_ACCOUNT)?;
        if coherent && !domain.enforce_cache_coherency() {
            // A driver that reports the capability enforces it on its new domains.
            kernel::warn_on!(true);
            return Err(EINVAL);
        }
        let hwpt = Arc::new(
            Self {
                header: ObjectHeader::new(),
                id,
                ioas,
                domain,
                auto_domain,
                enforce_cache_coherency: coherent,
                listed: Atomic::new(false),
                filled: Atomic::new(false),
                pasid_compat: flags & hwpt_flags::PASID != 0,
                nest_parent: flags & hwpt_flags::NEST_PARENT != 0,
                fault,
                sw_msi_present: MsiIds::new(),
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        crate::kapi::driver::set_sw_msi_cookie(crate::kapi::driver::MsiCookie::Paging(&hwpt));
        Ok(hwpt)
    }

    /// Fills the domain from the IOAS's mappings; from then on it follows them, until the
    /// HWPT is dropped. Called once, by the HWPT's maker, before it is published.
    ///
    /// # Errors
    ///
    /// As [`crate::pagetable::iopt::IoPageTable::add_domain`] fails; the domain stays
    /// empty then.
    pub(crate) fn fill(&self) -> Result {
        self.ioas.iopt.add_domain(&self.domain)?;
        self.filled.store(true, Relaxed);
        Ok(())
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

    /// Whether the domain snoops CPU caches for every DMA.
    pub(crate) fn coherent(&self) -> bool {
        self.enforce_cache_coherency
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

/// `IOMMU_HWPT_ALLOC`: allocates a HWPT for the device `dev_id` and answers with its id.
/// On an IOAS `pt_id`: a paging HWPT with the flags and driver data given, filled from
/// the IOAS. On a paging HWPT allocated as a nest parent: a nested HWPT whose driver data
/// describes the stage-1 table. The HWPT is not automatic: it stays until destroyed, and
/// devices attach to it by id.
///
/// # Errors
///
/// `EOPNOTSUPP` for a non-zero reserved field, unknown flags, flags the driver or device
/// does not support, or `FAULT_ID_VALID` with `NEST_PARENT`; `EINVAL` for data without a
/// type or the reverse, a `pt_id` that is neither an IOAS nor a paging HWPT, a parent
/// that is not a nest parent, or data the driver refuses; `ENOENT` for an unknown device
/// or fault queue; as filling fails (`ENOMEM`, also over `RLIMIT_MEMLOCK`, `EADDRINUSE`);
/// `EFAULT`.
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
    let flags = cmd.flags;
    let data = (!no_data).then_some(UserData {
        data_type: cmd.data_type,
        uptr: cmd.data_uptr as usize,
        len: cmd.data_len as usize,
    });
    let ioas = match objects.get::<Ioas>(cmd.pt_id) {
        Ok(ioas) => ioas,
        Err(_) => {
            if let Ok(parent) = objects.get::<HwptPaging>(cmd.pt_id) {
                return crate::pagetable::nested::alloc(ucmd, cmd, &idev, parent, data);
            }
            if let Ok(viommu) = objects.get::<Viommu>(cmd.pt_id) {
                return crate::pagetable::nested::alloc_on_viommu(ucmd, cmd, &idev, viommu, data);
            }
            return Err(EINVAL);
        }
    };
    if flags & !VALID != 0 {
        return Err(EOPNOTSUPP);
    }
    if flags & hwpt_flags::DIRTY_TRACKING != 0 && !device_capable(&idev.dev, Cap::DIRTY_TRACKING) {
        return Err(EOPNOTSUPP);
    }
    if flags & hwpt_flags::FAULT_ID_VALID != 0 && flags & hwpt_flags::NEST_PARENT != 0 {
        return Err(EOPNOTSUPP);
    }
    // Serialises with automatic attaches to the IOAS, as C's `ioas->mutex`.
    let _guard = ioas.auto_hwpts.lock();
    let reservation = objects.reserve()?;
    let id = reservation.id();
    let spec = PagingSpec {
        flags,
        data: data.as_ref(),
        auto_domain: false,
        coherent: idev.enforce_cache_coherency(),
        fault: fault_of(ucmd, flags, cmd.fault_id)?,
    };
    let hwpt = HwptPaging::new(ioas.clone(), id, &idev.dev, spec)?;
    cmd.out_hwpt_id = id;
    let prepared = reservation.prepare(hwpt)?;
    ucmd.respond(cmd)?;
    prepared.publish();
    Ok(())
}

/// `IOMMU_HWPT_INVALIDATE`: hands the user's array of invalidation requests to the driver
/// of a nested HWPT (or of a vIOMMU); answers with the number of requests handled.
///
/// # Errors
///
/// `EINVAL` for a non-zero reserved field, a request length of 0 with entries, too many
/// entries, a null array with entries, an id that is neither, or requests the driver
/// refuses; `EOPNOTSUPP` for unknown request flags; `ENOENT` for an unknown id; `EFAULT`.
pub(crate) fn invalidate(ucmd: &UCmd<'_>, cmd: &mut uapi::HwptInvalidate) -> Result {
    /// An upper bound on the entries of one call, as C's: a call cannot pin the CPU.
    const ENTRY_NUM_MAX: u32 = 1 << 19;
    let mut array = UserDataArray {
        data_type: cmd.data_type,
        uptr: cmd.data_uptr as usize,
        entry_len: cmd.entry_len as usize,
        entry_num: cmd.entry_num,
    };
    // The requests handled: what the driver reports, 0 if it was not called.
    let mut done = 0;
    let r = if cmd.__reserved != 0 {
        Err(EOPNOTSUPP)
    } else if cmd.entry_num != 0
        && (cmd.data_uptr == 0
            || cmd.entry_len == 0
            || cmd.entry_len as usize > kernel::page::PAGE_SIZE
            || cmd.entry_num > ENTRY_NUM_MAX)
    {
        Err(EINVAL)
    } else {
        match Invalidatable::get(ucmd, cmd.hwpt_id) {
            Err(e) => Err(e),
            Ok(target) => {
                let r = target.invalidate(&mut array);
                if let Ok(()) | Err(Called(_)) = r {
                    done = array.entry_num;
                }
                r.map_err(|e| e.error())
            }
        }
    };
    cmd.entry_num = done;
    ucmd.respond(cmd).map_err(|_| EFAULT)?;
    r
}

/// What `IOMMU_HWPT_INVALIDATE` may name.
enum Invalidatable {
    Nested(ObjRef<HwptNested>),
    Viommu(ObjRef<Viommu>),
}

/// Why an invalidation failed: before the driver was called, or by the driver.
pub(crate) enum InvalidateError {
    /// Refused before the driver was called.
    NotCalled(Error),
    /// The driver failed (it reports the requests it handled).
    Called(Error),
}
pub(crate) use InvalidateError::{Called, NotCalled};

impl InvalidateError {
    fn error(self) -> Error {
        match self {
            NotCalled(e) | Called(e) => e,
        }
    }
}

impl Invalidatable {
    fn get(ucmd: &UCmd<'_>, id: u32) -> Result<Self> {
        let objects = &ucmd.ctx.objects;
        if let Ok(h) = objects.get::<HwptNested>(id) {
            return Ok(Self::Nested(h));
        }
        if let Ok(v) = objects.get::<Viommu>(id) {
            return Ok(Self::Viommu(v));
        }
        Err(objects.kind_error(id))
    }

    fn invalidate(&self, array: &mut UserDataArray) -> core::result::Result<(), InvalidateError> {
        match self {
            Self::Nested(h) => {
                if !h.domain.has_cache_invalidate_user() {
                    return Err(NotCalled(EOPNOTSUPP));
                }
                h.domain.cache_invalidate_user(array).map_err(Called)
            }
            Self::Viommu(v) => v.cache_invalidate(array),
        }
    }
}
