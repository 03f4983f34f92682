// SPDX-License-Identifier: GPL-2.0

//! The vIOMMU structure a driver embeds (C's `struct iommufd_viommu`) and the driver's
//! `struct iommufd_viommu_ops`, called on it.
//!
//! The driver reports the size of its structure for a device and a vIOMMU type
//! (`get_viommu_size` of its `struct iommu_ops`), iommufd allocates it zeroed and fills the
//! core part, and the driver's `viommu_init` sets up the rest, `ops` included. From then
//! on the structure is the driver's handle of the vIOMMU: its vDEVICEs are listed in
//! `vdevs` (which the driver searches, [`crate::iommufd_driver_rs`]), and its HW queues and
//! vDEVICEs point to it.

use kernel::{
    bindings,
    device::Device,
    iommu::domain::{Domain, UserData, UserDataArray},
    prelude::*,
    xarray::XArray,
};

use super::{
    vdevice::{DriverVdevice, VdevEntry},
    DriverStruct, Owner,
};
use crate::{ctx::IommufdCtx, pagetable::viommu::Viommu};

/// The driver's vIOMMU structure, which starts with C's `struct iommufd_viommu`; the
/// driver's `destroy` runs before it is freed.
///
/// # Invariants
///
/// `vdevs` is initialised, and its entries are [`VdevEntry`]s of the vIOMMU's live
/// vDEVICEs, which C code (the driver's lookups) only reads under the array's lock; once
/// [`DriverViommu::init`] succeeded, `ops` is the driver's static operations.
pub(crate) struct DriverViommu(DriverStruct<bindings::iommufd_viommu, Viommu>);

// SAFETY: `Viommu::drv` is a plain field, never moved out of the `Viommu`.
unsafe impl Owner<bindings::iommufd_viommu> for Viommu {
    fn driver_struct(&self) -> &DriverStruct<bindings::iommufd_viommu, Self> {
        &self.drv.0
    }
}

/// The IOMMU instance that translates for `dev` (C's `dev->iommu->iommu_dev`), null if
/// none.
pub(super) fn iommu_dev(dev: &Device) -> *mut bindings::iommu_device {
    // SAFETY: `dev` is valid; a device without IOMMU has no `dev->iommu`, and one that has
    // keeps it while it is bound to a driver.
    unsafe {
        let param = (*crate::kapi::raw_device(dev)).iommu;
        if param.is_null() {
            core::ptr::null_mut()
        } else {
            (*param).iommu_dev
        }
    }
}

impl DriverViommu {
    /// The size of the structure the driver of `dev`'s IOMMU wants for a vIOMMU of type
    /// `ty`.
    ///
    /// # Errors
    ///
    /// `ENODEV` if `dev` has no IOMMU driver; `EOPNOTSUPP` if the driver has no vIOMMU of
    /// type `ty`.
    pub(crate) fn size(dev: &Device, ty: u32) -> Result<usize> {
        let ops = kernel::iommu::domain::device_ops(dev).ok_or(ENODEV)?;
        // SAFETY: A driver's ops live as long as devices are bound to it, which `dev` is.
        let (get_size, init) = unsafe { ((*ops).get_viommu_size, (*ops).viommu_init) };
        let (Some(get_size), Some(_)) = (get_size, init) else {
            return Err(EOPNOTSUPP);
        };
        // SAFETY: `dev` is a device the driver probed.
        match unsafe { get_size(crate::kapi::raw_device(dev), ty) } {
            0 => Err(EOPNOTSUPP),
            size => Ok(size),
        }
    }

    /// The structure for a vIOMMU of type `ty` for the IOMMU of `dev`, of `size` bytes
    /// ([`DriverViommu::size`]), its core part filled (`id` in the table of `ctx`), not
    /// yet initialised by the driver.
    ///
    /// # Errors
    ///
    /// `EOPNOTSUPP` (warned) if `size` is smaller than the core part; `ENOMEM`.
    pub(crate) fn alloc(
        dev: &Device,
        size: usize,
        ty: u32,
        ctx: &IommufdCtx,
        id: u32,
    ) -> Result<Self> {
        let mut drv = DriverStruct::<bindings::iommufd_viommu, Viommu>::alloc(size)?;
        let core = drv.raw_mut();
        core.obj.type_ = bindings::iommufd_object_type_IOMMUFD_OBJ_VIOMMU;
        core.obj.id = id;
        core.type_ = ty;
        // Drivers treat the context as a handle they pass back to iommufd
        // (`crate::kapi::driver`).
        core.ictx = core::ptr::from_ref(ctx).cast_mut().cast();
        core.iommu_dev = iommu_dev(dev);
        // INVARIANT: `vdevs` is initialised here, empty.
        // SAFETY: The structure is at its final address (a heap allocation) and nothing uses
        // `vdevs` yet; from now on it is used as `XArray::from_raw` requires (type invariant)
        // until `drop` destroys it.
        unsafe { XArray::<VdevEntry>::init_raw(&mut core.vdevs, None) };
        Ok(Self(drv))
    }

    /// Runs the driver's `viommu_init` on the structure, on the nest parent `parent`, with
    /// the user's `data` (if any), once the vIOMMU owns the structure.
    ///
    /// # Errors
    ///
    /// What the driver returns; `EOPNOTSUPP` (warned) if it did not set its operations.
    pub(crate) fn init(&self, dev: &Device, parent: &Domain, data: Option<&UserData>) -> Result {
        let ops = kernel::iommu::domain::device_ops(dev).ok_or(ENODEV)?;
        // SAFETY: As in `alloc`.
        let init = unsafe { (*ops).viommu_init }.ok_or(EOPNOTSUPP)?;
        let raw_data = data.map(UserData::as_raw);
        let data_ptr = raw_data
            .as_ref()
            .map_or(core::ptr::null(), core::ptr::from_ref);
        // SAFETY: The structure's core part is filled; the parent's domain is valid (the
        // vIOMMU holds it); `data_ptr` is null or valid for the call.
        kernel::error::to_result(unsafe { init(self.0.as_raw(), parent.as_raw(), data_ptr) })?;
        if self.ops().is_none() {
            // A driver bug: `viommu_init` must set the ops.
            kernel::warn_on!(true);
            return Err(EOPNOTSUPP);
        }
        Ok(())
    }

    /// The structure, for the driver (the mock's events) and the structures that point
    /// to it.
    pub(crate) fn as_raw(&self) -> *mut bindings::iommufd_viommu {
        self.0.as_raw()
    }

    /// The driver's operations, once `viommu_init` set them.
    fn ops(&self) -> Option<&bindings::iommufd_viommu_ops> {
        // SAFETY: A driver's ops are static data that outlive its vIOMMUs (type invariant).
        unsafe { self.0.raw().ops.as_ref() }
    }

    /// The vIOMMU type (`IOMMU_VIOMMU_TYPE_*`).
    pub(crate) fn viommu_type(&self) -> u32 {
        self.0.raw().type_
    }

    /// Whether the vIOMMU belongs to the IOMMU instance that translates for `dev`.
    pub(crate) fn serves(&self, dev: &Device) -> bool {
        self.0.raw().iommu_dev == iommu_dev(dev)
    }

    /// The size of the driver's vDEVICE structure (0 if it has none of its own) and
    /// whether it has a `vdevice_init`.
    pub(crate) fn vdevice_ops(&self) -> (usize, bool) {
        self.ops().map_or((0, false), |ops| {
            (ops.vdevice_size, ops.vdevice_init.is_some())
        })
    }

    /// The driver's `vdevice_init`, if any.
    pub(super) fn vdevice_init(&self) -> Option<super::vdevice::VdeviceInit> {
        self.ops().and_then(|ops| ops.vdevice_init)
    }

    /// The size of the driver's HW queue structure of type `ty`.
    ///
    /// # Errors
    ///
    /// `EOPNOTSUPP` if the driver has no HW queues, or none of type `ty`.
    pub(crate) fn hw_queue_size(&self, ty: u32) -> Result<usize> {
        let ops = self.ops().ok_or(EOPNOTSUPP)?;
        let (Some(get_size), Some(_)) = (ops.get_hw_queue_size, ops.hw_queue_init_phys) else {
            return Err(EOPNOTSUPP);
        };
        // SAFETY: The vIOMMU is initialised.
        match unsafe { get_size(self.as_raw(), ty) } {
            0 => Err(EOPNOTSUPP),
            size => Ok(size),
        }
    }

    /// The driver's `hw_queue_init_phys`.
    pub(super) fn hw_queue_init(&self) -> Option<super::hw_queue::HwQueueInit> {
        self.ops().and_then(|ops| ops.hw_queue_init_phys)
    }

    /// C's `viommu->vdevs`: the vDEVICEs by virtual ID, which drivers look up under its
    /// lock (`iommufd_viommu_find_dev()`).
    fn vdevs(&self) -> &XArray<VdevEntry> {
        // SAFETY: The structure is valid while owned, at a fixed address.
        unsafe { Self::vdevs_of(self.as_raw()) }
    }

    /// The `vdevs` of the vIOMMU structure `raw`, for the exports that drivers call.
    ///
    /// # Safety
    ///
    /// `raw` is the structure of a live [`DriverViommu`], which stays alive for `'a`.
    pub(crate) unsafe fn vdevs_of<'a>(raw: *mut bindings::iommufd_viommu) -> &'a XArray<VdevEntry> {
        // SAFETY: `vdevs` is initialised and used as `from_raw` requires (type invariant),
        // and the structure outlives `'a` (the caller's guarantee).
        unsafe { XArray::from_raw(&raw mut (*raw).vdevs) }
    }

    /// Reserves the slot of the virtual ID `virt_id` (it reads back as empty until
    /// [`DriverViommu::store_vdev`]).
    ///
    /// # Errors
    ///
    /// `EEXIST` if the virtual ID is taken; `ENOMEM`.
    pub(crate) fn reserve_vdev(&self, virt_id: u64) -> Result {
        match self
            .vdevs()
            .lock()
            .reserve(virt_id as usize, GFP_KERNEL_ACCOUNT)
        {
            Err(e) if e == EBUSY => Err(EEXIST),
            r => r,
        }
    }

    /// Puts the vDEVICE structure `vdev` in the slot `virt_id` reserved for it.
    pub(crate) fn store_vdev(&self, virt_id: u64, vdev: &DriverVdevice) {
        // The slot is reserved, so the store replaces the reservation in place and
        // allocates nothing. The vDEVICE removes itself (`forget_vdev`) before its
        // structure is freed.
        let old = self
            .vdevs()
            .lock()
            .store(virt_id as usize, vdev.entry(), GFP_KERNEL_ACCOUNT);
        kernel::warn_on!(!matches!(old, Ok(None)));
    }

    /// Empties the slot `virt_id` if it holds `vdev` or a reservation (the vDEVICE is
    /// going, or its setup failed).
    pub(crate) fn forget_vdev(&self, virt_id: u64, vdev: &DriverVdevice) {
        // Only the vDEVICE that reserved a slot stores into it or empties it, so a
        // reservation at `virt_id` is this vDEVICE's.
        let index = virt_id as usize;
        let mut vdevs = self.vdevs().lock();
        if vdevs.get(index).is_none_or(|entry| entry == vdev.entry()) {
            vdevs.remove(index);
        }
    }

    /// Allocates a nested domain through the driver (`alloc_domain_nested`).
    ///
    /// # Errors
    ///
    /// `EOPNOTSUPP` if the driver cannot; what it returns.
    pub(crate) fn alloc_domain_nested(&self, flags: u32, data: &UserData) -> Result<Domain> {
        let alloc = self
            .ops()
            .and_then(|ops| ops.alloc_domain_nested)
            .ok_or(EOPNOTSUPP)?;
        let raw = data.as_raw();
        // SAFETY: The vIOMMU is initialised and `raw` valid for the call; the result is an
        // error pointer or a new domain that is ours. `iommu_dev` is the driver's instance,
        // valid while the driver is bound to devices, which the vIOMMU's parent has.
        unsafe {
            Domain::from_driver_nested(
                alloc(self.as_raw(), flags, &raw),
                (*self.0.raw().iommu_dev).ops,
            )
        }
    }

    /// Whether the driver takes invalidation requests (`cache_invalidate`).
    pub(crate) fn has_cache_invalidate(&self) -> bool {
        self.ops().is_some_and(|ops| ops.cache_invalidate.is_some())
    }

    /// Hands the user's invalidation requests to the driver (`cache_invalidate`), which
    /// records in `array.entry_num` how many it handled.
    ///
    /// # Errors
    ///
    /// `EOPNOTSUPP` if the driver cannot (see [`DriverViommu::has_cache_invalidate`]);
    /// what it returns.
    pub(crate) fn cache_invalidate(&self, array: &mut UserDataArray) -> Result {
        let f = self
            .ops()
            .and_then(|ops| ops.cache_invalidate)
            .ok_or(EOPNOTSUPP)?;
        let mut raw = array.as_raw();
        // SAFETY: The vIOMMU is initialised and `raw` valid for the call.
        let r = kernel::error::to_result(unsafe { f(self.as_raw(), &mut raw) });
        array.entry_num = raw.entry_num;
        r
    }

    /// The vIOMMU whose driver structure is `raw`.
    ///
    /// # Safety
    ///
    /// `raw` is the driver structure of a live [`Viommu`], which stays alive for `'a`.
    pub(crate) unsafe fn owner<'a>(raw: *const bindings::iommufd_viommu) -> &'a Viommu {
        // SAFETY: By the caller's guarantee, and `Viommu` publishes itself as the owner
        // when it is made (`Owner`).
        unsafe { DriverStruct::owner_of(raw) }
    }
}

impl Drop for DriverViommu {
    fn drop(&mut self) {
        if let Some(destroy) = self.ops().and_then(|ops| ops.destroy) {
            // SAFETY: The driver initialised the structure (it set `ops`); it is destroyed
            // once, here, before the allocation is freed (by the field's drop).
            unsafe { destroy(self.as_raw()) };
        }
        // SAFETY: `vdevs` is initialised and used as `from_raw` requires (type invariant);
        // every vDEVICE, which holds the vIOMMU, left it, and it is not used again.
        unsafe { XArray::<VdevEntry>::destroy_raw(&raw mut (*self.as_raw()).vdevs) };
    }
}
