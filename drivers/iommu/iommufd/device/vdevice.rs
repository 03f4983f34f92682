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
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

use crate::{
    device::idev::IDevice,
    driver::vdevice::DriverVdevice,
    object::{ObjRef, ObjectHeader},
    pagetable::viommu::Viommu,
    uapi,
    ucmd::UCmd,
};

/// A vDEVICE.
pub(crate) struct VDevice {
    header: ObjectHeader,
    /// Its id in the context's table.
    id: u32,
    /// The structure drivers see (`viommu`, `idev`, `virt_id` filled), listed in the
    /// vIOMMU's `vdevs` once the driver accepted it.
    pub(crate) drv: DriverVdevice,
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
        self.viommu.drv.forget_vdev(self.virt_id, &self.drv);
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
    if !viommu.serves(&idev.dev) {
        return Err(EINVAL);
    }
    let size = DriverVdevice::size(&viommu.drv)?;
    let virt_id = cmd.virt_id;
    let reservation = objects.reserve()?;
    let id = reservation.id();
    // Claims the device's slot, or fails with `EEXIST`; released if anything below fails
    // (by the vDEVICE's drop once it exists).
    idev.claim_vdev(id)?;
    let drv = DriverVdevice::alloc(&viommu.drv, size, idev.arc(), id, virt_id).and_then(|d| {
        viommu.drv.reserve_vdev(virt_id)?;
        Ok(d)
    });
    let drv = match drv {
        Ok(drv) => drv,
        Err(e) => {
            idev.clear_vdev(id);
            return Err(e);
        }
    };
    let vdev = Arc::new(
        VDevice {
            header: ObjectHeader::new(),
            id,
            drv,
            viommu: viommu.clone(),
            idev: idev.arc().clone(),
            virt_id,
        },
        GFP_KERNEL_ACCOUNT,
    );
    // On failure the `VDevice` is dropped, which releases the virtual ID and the device's
    // slot.
    let vdev = vdev?;
    crate::driver::set_owner(&vdev);
    // On failure the drop of `vdev` runs what the driver set up to undo (`destroy`).
    vdev.drv.init()?;
    viommu.drv.store_vdev(virt_id, &vdev.drv);
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
