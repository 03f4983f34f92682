// SPDX-License-Identifier: GPL-2.0

//! The vDEVICE structure (C's `struct iommufd_vdevice`), at the start of the driver's own
//! if it has one (`vdevice_size` of its `struct iommufd_viommu_ops`).
//!
//! iommufd fills the core part (the vIOMMU, the device's handle, the virtual ID) and hands
//! the structure to the driver's `vdevice_init`, which may set `destroy`; the vIOMMU lists
//! the structure in its `vdevs` once the driver accepted it
//! ([`super::viommu::DriverViommu::store_vdev`]).

use kernel::{bindings, prelude::*, sync::Arc, xarray::Unowned};

use super::{viommu::DriverViommu, DriverStruct, Owner};
use crate::device::{idev::IDevice, vdevice::VDevice};

/// A driver's `vdevice_init`.
pub(super) type VdeviceInit =
    unsafe extern "C" fn(vdev: *mut bindings::iommufd_vdevice) -> kernel::ffi::c_int;

/// An entry of a vIOMMU's `vdevs`: the address of a vDEVICE's structure, which the array
/// does not own.
///
/// A vDEVICE stores its entry once its driver accepted it
/// ([`DriverViommu::store_vdev`]) and takes it out ([`DriverViommu::forget_vdev`]) before
/// its structure is freed, so an entry found under the array's lock names a live vDEVICE.
pub(crate) type VdevEntry = Unowned<bindings::iommufd_vdevice>;

/// The vDEVICE structure; the driver's `destroy` runs before it is freed.
///
/// # Invariants
///
/// The core part names a vIOMMU that outlives the structure (the vDEVICE holds it) and the
/// C handle of a bound device whose memory outlives it (the vDEVICE holds the device);
/// `init` is the `vdevice_init` of that vIOMMU's driver.
pub(crate) struct DriverVdevice {
    drv: DriverStruct<bindings::iommufd_vdevice, VDevice>,
    init: Option<VdeviceInit>,
}

// SAFETY: `VDevice::drv` is a plain field, never moved out of the `VDevice`.
unsafe impl Owner<bindings::iommufd_vdevice> for VDevice {
    fn driver_struct(&self) -> &DriverStruct<bindings::iommufd_vdevice, Self> {
        &self.drv.drv
    }
}

impl DriverVdevice {
    /// The size of the vDEVICE structure of `viommu`'s driver: its own, or the core's.
    ///
    /// # Errors
    ///
    /// `EOPNOTSUPP` (a driver bug, warned about) if the driver's vDEVICE operations are
    /// inconsistent (a structure smaller than the core's, or a size without
    /// `vdevice_init`).
    pub(crate) fn size(viommu: &DriverViommu) -> Result<usize> {
        let core_size = core::mem::size_of::<bindings::iommufd_vdevice>();
        match viommu.vdevice_ops() {
            (0, _) => Ok(core_size),
            (size, true) if size >= core_size => Ok(size),
            _ => {
                kernel::warn_on!(true);
                Err(EOPNOTSUPP)
            }
        }
    }

    /// The structure of the vDEVICE `id` that gives `idev` the virtual ID `virt_id` on
    /// `viommu`, of `size` bytes ([`DriverVdevice::size`]), its core part filled.
    ///
    /// `viommu` and `idev` must outlive the structure (the vDEVICE holds both).
    ///
    /// # Errors
    ///
    /// `EOPNOTSUPP` (warned) if `size` is smaller than the core part; `ENOMEM`.
    pub(crate) fn alloc(
        viommu: &DriverViommu,
        size: usize,
        idev: &Arc<IDevice>,
        id: u32,
        virt_id: u64,
    ) -> Result<Self> {
        let init = viommu.vdevice_init();
        let mut drv = DriverStruct::<bindings::iommufd_vdevice, VDevice>::alloc(size)?;
        let core = drv.raw_mut();
        core.obj.type_ = bindings::iommufd_object_type_IOMMUFD_OBJ_VDEVICE;
        core.obj.id = id;
        core.viommu = viommu.as_raw();
        core.idev = crate::kapi::device::handle_of(idev);
        core.virt_id = virt_id;
        // INVARIANT: The caller keeps `viommu` and `idev` while the structure lives.
        Ok(Self { drv, init })
    }

    /// Runs the driver's `vdevice_init` (if any), once the vDEVICE owns the structure.
    ///
    /// # Errors
    ///
    /// What the driver returns; the owner's drop then runs what it set up to undo.
    pub(crate) fn init(&self) -> Result {
        match self.init {
            // SAFETY: The core part is filled and the vIOMMU initialised (type invariant).
            Some(init) => kernel::error::to_result(unsafe { init(self.as_raw()) }),
            None => Ok(()),
        }
    }

    /// Runs the driver's `destroy`, once.
    pub(crate) fn destroy(&mut self) {
        if let Some(destroy) = self.drv.raw_mut().destroy.take() {
            // SAFETY: The driver set up the structure (it set `destroy`); it is destroyed
            // once, before it is freed.
            unsafe { destroy(self.drv.as_raw()) };
        }
    }

    /// The structure, for the driver.
    pub(super) fn as_raw(&self) -> *mut bindings::iommufd_vdevice {
        self.drv.as_raw()
    }

    /// The structure's entry in the vIOMMU's `vdevs`.
    pub(super) fn entry(&self) -> VdevEntry {
        // INVARIANT: The structure is live while `self` is; the vDEVICE removes the entry
        // before it frees the structure.
        VdevEntry::new(self.drv.ptr())
    }

    /// The vDEVICE whose driver structure is `raw`.
    ///
    /// # Safety
    ///
    /// `raw` is the driver structure of a live [`VDevice`], alive for `'a`.
    pub(crate) unsafe fn owner<'a>(raw: *const bindings::iommufd_vdevice) -> &'a VDevice {
        // SAFETY: By the caller's guarantee, and `VDevice` publishes itself as the owner
        // when it is made (`Owner`).
        unsafe { DriverStruct::owner_of(raw) }
    }
}
