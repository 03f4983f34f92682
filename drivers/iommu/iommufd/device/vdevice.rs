// SPDX-License-Identifier: GPL-2.0

//! vDEVICEs (`IOMMU_VDEVICE_ALLOC`): a bound device's identity on a vIOMMU, the virtual
//! ID the VM knows it by (a vSID on SMMUv3, a vRID on VT-d, a vDeviceID on AMD).
//!
//! The vIOMMU's driver looks devices up by virtual ID when it handles the VM's commands
//! (invalidations naming a device) and the reverse when it reports events
//! (C's `iommufd_viommu_find_dev()` and `iommufd_viommu_get_vdev_id()`, in the driver core,
//! on the vIOMMU's `vdevs`, where a vDEVICE is listed once its driver accepted it).
//!
//! # Lifetime
//!
//! A device has at most one vDEVICE. The vDEVICE holds its vIOMMU as a user, and the
//! device's memory (not a user: the device's driver may unbind it at any time). When the
//! device is unbound first, its vDEVICE is destroyed with it and leaves a tombstone: its
//! id stays taken, and destroying it fails with `ENOENT`, until the file is closed.

use kernel::{
    bindings, new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

use crate::{
    device::idev::IDevice,
    driver::DriverStruct,
    object::{ObjRef, ObjectHeader},
    pagetable::viommu::Viommu,
    uapi,
    ucmd::UCmd,
};

/// The vDEVICE structure, C's `struct iommufd_vdevice`, at the start of the driver's own
/// if it has one (`vdevice_size`); the driver's `destroy` runs before it is freed.
struct DriverVdevice(DriverStruct<bindings::iommufd_vdevice, VDevice>);

impl DriverVdevice {
    /// Runs the driver's `destroy`, once.
    fn destroy(&mut self) {
        if let Some(destroy) = self.0.raw_mut().destroy.take() {
            // SAFETY: The driver set up the structure (it set `destroy`); it is destroyed
            // once, before it is freed.
            unsafe { destroy(self.0.as_raw()) };
        }
    }
}

/// A vDEVICE.
pub(crate) struct VDevice {
    header: ObjectHeader,
    /// Its id in the context's table.
    id: u32,
    /// The structure drivers see (`viommu`, `idev`, `virt_id` filled), listed in the
    /// vIOMMU's `vdevs` once the driver accepted it.
    drv: DriverVdevice,
    /// The vIOMMU it is a device of.
    viommu: ObjRef<Viommu>,
    /// The device, which `drv.idev` names.
    idev: Arc<IDevice>,
    /// The virtual ID.
    virt_id: u64,
}

crate::object::object_type!(VDevice, VDevice);

impl Drop for VDevice {
    fn drop(&mut self) {
        // As C: the driver lets go first, then the vIOMMU forgets the vDEVICE, then the
        // device's slot is freed.
        self.drv.destroy();
        self.viommu.forget_vdev(self.virt_id, self.drv.0.as_raw());
        self.idev.clear_vdev(self.id);
    }
}

/// `IOMMU_VDEVICE_ALLOC`: gives the device `dev_id` the virtual ID `virt_id` on the
/// vIOMMU `viommu_id`; answers with the vDEVICE's id.
///
/// The driver's `vdevice_init` (if any) sees the vDEVICE with its virtual ID reserved in
/// the vIOMMU, which lists it only once the driver accepted it.
///
/// # Errors
///
/// `ENOENT` for an unknown vIOMMU or device (or a device being unbound); `EINVAL` for a
/// device of another IOMMU; `EEXIST` if the device has a vDEVICE or the virtual ID is
/// taken; `EOPNOTSUPP` for a driver whose vDEVICE ops are inconsistent (warned); what the
/// driver's `vdevice_init` returns; `ENOMEM`, `EFAULT`.
pub(crate) fn alloc(ucmd: &UCmd<'_>, cmd: &mut uapi::VdeviceAlloc) -> Result {
    let objects = &ucmd.ctx.objects;
    let viommu = objects.get::<Viommu>(cmd.viommu_id)?;
    let idev = objects.get::<IDevice>(cmd.dev_id)?;
    if viommu.iommu_dev() != crate::device::iommu_dev(&idev.dev) {
        return Err(EINVAL);
    }
    let core_size = core::mem::size_of::<bindings::iommufd_vdevice>();
    let (size, init) = match viommu.vdevice_ops() {
        (0, init) => (core_size, init),
        (size, Some(init)) if size >= core_size => (size, Some(init)),
        _ => {
            // A driver bug: a structure smaller than the core's, or no `vdevice_init`.
            kernel::warn_on!(true);
            return Err(EOPNOTSUPP);
        }
    };
    let virt_id = cmd.virt_id;
    let reservation = objects.reserve()?;
    let id = reservation.id();
    // Claims the device's slot, or fails with `EEXIST`; released if anything below fails
    // (by the vDEVICE's drop once it exists).
    idev.claim_vdev(id)?;
    let drv = DriverStruct::<bindings::iommufd_vdevice, VDevice>::alloc(size).and_then(|d| {
        viommu.reserve_vdev(virt_id)?;
        Ok(d)
    });
    let mut drv = match drv {
        Ok(drv) => drv,
        Err(e) => {
            idev.clear_vdev(id);
            return Err(e);
        }
    };
    {
        let core = drv.raw_mut();
        core.obj.type_ = bindings::iommufd_object_type_IOMMUFD_OBJ_VDEVICE;
        core.obj.id = id;
        core.viommu = viommu.drv.as_raw();
        core.idev = crate::kapi::device::handle_of(idev.arc());
        core.virt_id = virt_id;
    }
    let vdev = Arc::new(
        VDevice {
            header: ObjectHeader::new(),
            id,
            drv: DriverVdevice(drv),
            viommu: viommu.clone(),
            idev: idev.arc().clone(),
            virt_id,
        },
        GFP_KERNEL_ACCOUNT,
    );
    // On failure the `VDevice` is dropped, which releases the virtual ID and the device's
    // slot.
    let vdev = vdev?;
    // SAFETY: The structure is a field of the `VDevice`, which the `Arc` keeps at this
    // address.
    unsafe { vdev.drv.0.set_owner(core::ptr::from_ref::<VDevice>(&vdev)) };
    if let Some(init) = init {
        // SAFETY: The core part is filled and the vIOMMU initialised; on failure the drop
        // of `vdev` runs what the driver set up to undo (`destroy`).
        kernel::error::to_result(unsafe { init(vdev.drv.0.as_raw()) })?;
    }
    viommu.store_vdev(virt_id, vdev.drv.0.as_raw());
    cmd.out_vdevice_id = id;
    let prepared = reservation.prepare(vdev)?;
    ucmd.respond(cmd)?;
    // Published under the device's slot lock, so that an unbind either sees it (and
    // tombstones it) or closed the slot first (and it is not published).
    idev.publish_vdev(id, prepared)
}

impl VDevice {
    /// Whether this is the vDEVICE of `idev`.
    pub(crate) fn is_of(&self, idev: &IDevice) -> bool {
        core::ptr::eq(&*self.idev, idev)
    }

    /// The vDEVICE whose driver structure is `raw`.
    ///
    /// # Safety
    ///
    /// `raw` is the driver structure of a live [`VDevice`], alive for `'a`.
    pub(crate) unsafe fn from_raw<'a>(raw: *const bindings::iommufd_vdevice) -> &'a VDevice {
        // SAFETY: By the caller's guarantee.
        unsafe { DriverStruct::owner_of(raw) }
    }
}

/// The slot of a device's vDEVICE (see [`IDevice`]).
pub(crate) struct VdevSlot {
    /// The id of the vDEVICE, 0 for none.
    id: u32,
    /// The device is being unbound: no new vDEVICE.
    closed: bool,
}

impl VdevSlot {
    /// An empty slot.
    pub(crate) fn new() -> impl PinInit<Mutex<Self>> {
        new_mutex!(Self {
            id: 0,
            closed: false
        })
    }

    /// Claims the empty slot for the vDEVICE `id`.
    ///
    /// # Errors
    ///
    /// `EEXIST` if the device has a vDEVICE, `ENOENT` if it is being unbound.
    pub(crate) fn claim(&mut self, id: u32) -> Result {
        if self.closed {
            return Err(ENOENT);
        }
        if self.id != 0 {
            return Err(EEXIST);
        }
        self.id = id;
        Ok(())
    }

    /// Whether the slot still holds the claim of the vDEVICE `id`.
    pub(crate) fn holds(&self, id: u32) -> bool {
        !self.closed && self.id == id
    }

    /// Empties the slot if it holds the vDEVICE `id`.
    pub(crate) fn clear(&mut self, id: u32) {
        if self.id == id {
            self.id = 0;
        }
    }

    /// Closes the slot for good (the device is being unbound); returns the id of the
    /// vDEVICE it held, 0 for none.
    pub(crate) fn close(&mut self) -> u32 {
        self.closed = true;
        core::mem::take(&mut self.id)
    }
}
