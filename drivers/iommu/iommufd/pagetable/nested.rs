// SPDX-License-Identifier: GPL-2.0

//! Nested hardware page tables: a stage-1 table that user space (a guest) owns, which the
//! IOMMU walks on top of a paging HWPT (the nest parent, stage 2).
//!
//! iommufd does not map anything in a nested HWPT: the driver's data given at allocation
//! describes the user's table, and `IOMMU_HWPT_INVALIDATE` passes the user's cache
//! invalidation requests for it on to the driver.
//!
//! # Lifetime
//!
//! A nested HWPT holds its parent as a user (`IOMMU_DESTROY` of the parent fails with
//! `EBUSY` meanwhile), or, when made on a vIOMMU, the vIOMMU (which holds the parent);
//! and its fault queue if it has one. Its domain is freed before those users are
//! dropped. Attached devices hold the nested HWPT as users.

use kernel::{iommu::domain::Domain, iommu::domain::UserData, prelude::*, sync::Arc};

use crate::{
    device::idev::IDevice,
    object::{ObjRef, ObjectHeader},
    pagetable::{eventq::fault::Fault, hwpt::HwptPaging, viommu::Viommu},
    uapi::{self, hwpt_flags},
    ucmd::UCmd,
};

/// A nested HWPT.
pub(crate) struct HwptNested {
    header: ObjectHeader,
    /// Its id in the context's table.
    id: u32,
    /// The nested domain (dropped, and freed, before the objects it depends on, unless an
    /// attachment holds it: attachments hold the HWPT too).
    pub(crate) domain: Arc<Domain>,
    /// What the domain nests on: the paging HWPT, or the vIOMMU that holds it.
    on: NestedOn,
    /// Allocated with `IOMMU_HWPT_ALLOC_PASID`: it may serve PASIDs.
    pub(crate) pasid_compat: bool,
    /// The fault queue of its IO page faults (a user of it).
    pub(crate) fault: Option<ObjRef<Fault>>,
}

crate::object::object_type!(HwptNested, HwptNested);

impl HwptNested {
    /// Its id in the context's table.
    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    /// The vIOMMU it was made on, if any.
    pub(crate) fn viommu(&self) -> Option<&Viommu> {
        match &self.on {
            NestedOn::Viommu { viommu } => Some(viommu),
            NestedOn::Parent { .. } => None,
        }
    }

    /// The paging HWPT it nests on (the parent, or the vIOMMU's).
    pub(crate) fn parent(&self) -> &HwptPaging {
        match &self.on {
            NestedOn::Parent { hwpt } => hwpt,
            NestedOn::Viommu { viommu } => viommu.parent(),
        }
    }
}

/// What a nested HWPT is made on (a user of it).
enum NestedOn {
    Parent { hwpt: ObjRef<HwptPaging> },
    Viommu { viommu: ObjRef<Viommu> },
}

/// Builds and publishes the nested HWPT of `domain` for `IOMMU_HWPT_ALLOC`, with the fault
/// queue `cmd` names if any.
///
/// # Errors
///
/// `ENOENT` for an unknown fault queue; `ENOMEM`, `EFAULT`. The domain is freed on error.
fn publish(ucmd: &UCmd<'_>, cmd: &mut uapi::HwptAlloc, mut domain: Domain, on: NestedOn) -> Result {
    let objects = &ucmd.ctx.objects;
    let reservation = objects.reserve()?;
    let fault = if cmd.flags & hwpt_flags::FAULT_ID_VALID != 0 {
        domain.set_iopf_handler::<crate::system::group::HandleData>();
        Some(objects.get::<Fault>(cmd.fault_id)?)
    } else {
        None
    };
    let domain = Arc::new(domain, GFP_KERNEL_ACCOUNT)?;
    let hwpt = Arc::new(
        HwptNested {
            header: ObjectHeader::new(),
            id: reservation.id(),
            domain,
            on,
            pasid_compat: cmd.flags & hwpt_flags::PASID != 0,
            fault,
        },
        GFP_KERNEL_ACCOUNT,
    )?;
    // The iommu core hands MSI set-up of devices attached to a nested domain to iommufd
    // too; the doorbells go into the parent's domain.
    crate::kapi::driver::set_sw_msi_cookie(crate::kapi::driver::MsiCookie::Nested(&hwpt));
    cmd.out_hwpt_id = reservation.id();
    let prepared = reservation.prepare(hwpt)?;
    ucmd.respond(cmd)?;
    prepared.publish();
    Ok(())
}

/// `IOMMU_HWPT_ALLOC` on a paging HWPT: a nested HWPT for the device `idev` on `parent`.
///
/// # Errors
///
/// `EOPNOTSUPP` for flags other than `FAULT_ID_VALID` and `PASID`, missing driver data,
/// or a driver that cannot nest; `EINVAL` if the parent is automatic, not a nest parent,
/// or of another driver, and for data the driver refuses; `ENOENT` for an unknown fault
/// queue; `EFAULT`, `ENOMEM`.
pub(super) fn alloc(
    ucmd: &UCmd<'_>,
    cmd: &mut uapi::HwptAlloc,
    idev: &IDevice,
    parent: ObjRef<HwptPaging>,
    data: Option<UserData>,
) -> Result {
    let flags = cmd.flags;
    if !kernel::iommu::domain::device_has_iommu_driver(&idev.dev) {
        return Err(ENODEV);
    }
    let Some(data) = data.filter(|d| d.len != 0) else {
        return Err(EOPNOTSUPP);
    };
    if flags & !(hwpt_flags::FAULT_ID_VALID | hwpt_flags::PASID) != 0 {
        return Err(EOPNOTSUPP);
    }
    if parent.auto_domain || !parent.nest_parent || !parent.domain.is_of_driver_of(&idev.dev) {
        return Err(EINVAL);
    }
    let domain = Domain::alloc_nested(
        &idev.dev,
        &parent.domain,
        flags & !hwpt_flags::FAULT_ID_VALID,
        &data,
    )?;
    publish(ucmd, cmd, domain, NestedOn::Parent { hwpt: parent })
}

/// `IOMMU_HWPT_ALLOC` on a vIOMMU: a nested HWPT the vIOMMU's driver makes, for the
/// device `idev` of the same IOMMU.
///
/// # Errors
///
/// `EINVAL` for a device of another IOMMU; `EOPNOTSUPP` for flags other than
/// `FAULT_ID_VALID` and `PASID`, missing driver data, or a driver that cannot; as the
/// driver fails; `ENOENT` for an unknown fault queue; `EFAULT`, `ENOMEM`.
pub(super) fn alloc_on_viommu(
    ucmd: &UCmd<'_>,
    cmd: &mut uapi::HwptAlloc,
    idev: &IDevice,
    viommu: ObjRef<Viommu>,
    data: Option<UserData>,
) -> Result {
    if !viommu.serves(&idev.dev) {
        return Err(EINVAL);
    }
    let flags = cmd.flags;
    if flags & !(hwpt_flags::FAULT_ID_VALID | hwpt_flags::PASID) != 0 {
        return Err(EOPNOTSUPP);
    }
    let Some(data) = data.filter(|d| d.len != 0) else {
        return Err(EOPNOTSUPP);
    };
    let domain = viommu.alloc_domain_nested(flags & !hwpt_flags::FAULT_ID_VALID, &data)?;
    publish(ucmd, cmd, domain, NestedOn::Viommu { viommu })
}
