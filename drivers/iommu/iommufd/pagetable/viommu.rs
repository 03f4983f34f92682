// SPDX-License-Identifier: GPL-2.0

//! vIOMMUs (`IOMMU_VIOMMU_ALLOC`): the slice of a physical IOMMU that a VM's virtual IOMMU
//! is backed by.
//!
//! A vIOMMU sits on a nest parent (the VM's stage 2) and lets the IOMMU driver keep
//! per-VM state: nested HWPTs allocated on the vIOMMU belong to it, and the user's cache
//! invalidations go to it as a whole (`IOMMU_HWPT_INVALIDATE` on the vIOMMU's id).
//!
//! The driver embeds C's `struct iommufd_viommu` at the start of its own structure, whose
//! size it reports (`get_viommu_size`); iommufd allocates it, fills the core part and
//! hands it to the driver's `viommu_init`, which sets `ops`. That layout is C's, so the C
//! drivers (arm-smmu-v3's) and the mock in Rust share one interface: [`DriverViommu`]
//! owns the allocation and calls the driver ([`crate::driver::viommu`]).
//!
//! # Lifetime
//!
//! A vIOMMU holds its parent HWPT as a user; nested HWPTs made on it hold it as a user.
//! On destruction the driver's `destroy` runs first, then the allocation is freed, then
//! the parent's user is dropped.

pub(crate) mod hw_queue;

use kernel::{
    iommu::domain::{Domain, UserData, UserDataArray},
    new_mutex,
    prelude::*,
    sync::Arc,
    sync::Mutex,
};

use crate::{
    device::idev::IDevice,
    driver::viommu::DriverViommu,
    object::{ObjRef, ObjectHeader},
    pagetable::{
        eventq::veventq::Events,
        hwpt::{HwptPaging, InvalidateError},
    },
    uapi,
    ucmd::UCmd,
};

/// A vIOMMU.
#[pin_data]
pub(crate) struct Viommu {
    header: ObjectHeader,
    /// The driver's structure (dropped, and destroyed, before `hwpt`).
    pub(crate) drv: DriverViommu,
    /// The nest parent.
    hwpt: ObjRef<HwptPaging>,
    /// Its event queues, one per type (C's `viommu->veventqs`).
    #[pin]
    veventqs: Mutex<KVec<Arc<Events>>>,
}

crate::object::object_type!(Viommu, Viommu);

impl Viommu {
    /// The nest parent the vIOMMU holds.
    pub(crate) fn parent(&self) -> &HwptPaging {
        &self.hwpt
    }

    /// The nest parent.
    pub(crate) fn hwpt(&self) -> &ObjRef<HwptPaging> {
        &self.hwpt
    }

    /// Lists the event queue `q`.
    ///
    /// # Errors
    ///
    /// `EEXIST` if a queue of its type is listed; `ENOMEM`.
    pub(crate) fn add_veventq(&self, q: &Arc<Events>) -> Result {
        let mut list = self.veventqs.lock();
        if list.iter().any(|r| r.ty == q.ty) {
            return Err(EEXIST);
        }
        list.push(q.clone(), GFP_KERNEL_ACCOUNT)?;
        Ok(())
    }

    /// Removes the event queue `q` from the list, if listed.
    pub(crate) fn forget_veventq(&self, q: &Arc<Events>) {
        self.veventqs.lock().retain(|r| !Arc::ptr_eq(r, q));
    }

    /// Reports an event of type `ty` with `data` to the queue of that type (C's
    /// `iommufd_viommu_report_event`).
    ///
    /// # Errors
    ///
    /// `EOPNOTSUPP` if there is no queue of that type; `ENOMEM` if the event was lost for
    /// lack of memory.
    pub(crate) fn report_event(&self, ty: u32, data: &[u8]) -> Result {
        let list = self.veventqs.lock();
        let q = list.iter().find(|q| q.ty == ty).ok_or(EOPNOTSUPP)?;
        q.report(data)
    }

    /// Whether the vIOMMU belongs to the IOMMU instance that translates for `dev`.
    pub(crate) fn serves(&self, dev: &kernel::device::Device) -> bool {
        self.drv.serves(dev)
    }

    /// Allocates a nested domain through the driver (`alloc_domain_nested`).
    ///
    /// # Errors
    ///
    /// `EOPNOTSUPP` if the driver cannot; what it returns.
    pub(crate) fn alloc_domain_nested(&self, flags: u32, data: &UserData) -> Result<Domain> {
        self.drv.alloc_domain_nested(flags, data)
    }

    /// Hands the user's invalidation requests to the driver (`cache_invalidate`).
    ///
    /// # Errors
    ///
    /// `NotCalled(EOPNOTSUPP)` if the driver cannot; `Called(e)` for what it returns.
    pub(crate) fn cache_invalidate(
        &self,
        array: &mut UserDataArray,
    ) -> core::result::Result<(), InvalidateError> {
        if !self.drv.has_cache_invalidate() {
            return Err(InvalidateError::NotCalled(EOPNOTSUPP));
        }
        self.drv
            .cache_invalidate(array)
            .map_err(InvalidateError::Called)
    }
}

/// `IOMMU_VIOMMU_ALLOC`: a vIOMMU of `type` for the IOMMU of the device `dev_id`, on the
/// nest parent `hwpt_id`; answers with its id.
///
/// # Errors
///
/// `EOPNOTSUPP` for non-zero flags, the default type, or a type the driver does not
/// provide; `ENOENT` for an unknown device or HWPT; `EINVAL` if the HWPT is not a nest
/// parent, or for data the driver refuses; `ENOMEM`, `EFAULT`.
pub(crate) fn alloc(ucmd: &UCmd<'_>, cmd: &mut uapi::ViommuAlloc) -> Result {
    if cmd.flags != 0 || cmd.type_ == kernel::uapi::iommu_viommu_type_IOMMU_VIOMMU_TYPE_DEFAULT {
        return Err(EOPNOTSUPP);
    }
    let objects = &ucmd.ctx.objects;
    let idev = objects.get::<IDevice>(cmd.dev_id)?;
    // As C, the driver is asked for the structure's size before the HWPT is looked at.
    let size = DriverViommu::size(&idev.dev, cmd.type_)?;
    let hwpt = objects.get::<HwptPaging>(cmd.hwpt_id)?;
    if !hwpt.nest_parent {
        return Err(EINVAL);
    }
    let reservation = objects.reserve()?;
    let drv = DriverViommu::alloc(&idev.dev, size, cmd.type_, ucmd.ctx, reservation.id())?;
    let viommu = Arc::pin_init(
        pin_init!(Viommu {
            header: ObjectHeader::new(),
            drv,
            hwpt,
            veventqs <- new_mutex!(KVec::new()),
        }),
        GFP_KERNEL_ACCOUNT,
    )?;
    crate::driver::set_owner(&viommu);
    let data = UserData {
        data_type: cmd.type_,
        uptr: cmd.data_uptr as usize,
        len: cmd.data_len as usize,
    };
    let data = (cmd.data_len != 0).then_some(&data);
    viommu.drv.init(&idev.dev, &viommu.hwpt.domain, data)?;
    cmd.out_viommu_id = reservation.id();
    let prepared = reservation.prepare(viommu)?;
    ucmd.respond(cmd)?;
    prepared.publish();
    Ok(())
}
