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
//! owns the allocation ([`crate::driver`]).
//!
//! # Lifetime
//!
//! A vIOMMU holds its parent HWPT as a user; nested HWPTs made on it hold it as a user.
//! On destruction the driver's `destroy` runs first, then the allocation is freed, then
//! the parent's user is dropped.

use kernel::{
    bindings,
    device::Device,
    iommu::domain::{Domain, UserData, UserDataArray},
    new_mutex,
    prelude::*,
    sync::Arc,
    sync::{aref::ARef, Mutex},
};

use crate::{
    device::idev::IDevice,
    driver::DriverStruct,
    object::{ObjRef, ObjectHeader},
    pagetable::{
        hwpt::{HwptPaging, InvalidateError},
        veventq::VEventq,
    },
    uapi,
    ucmd::UCmd,
};

/// The driver's vIOMMU structure, which starts with C's `struct iommufd_viommu`; the
/// driver's `destroy` runs before it is freed.
pub(crate) struct DriverViommu(DriverStruct<bindings::iommufd_viommu, Viommu>);

impl DriverViommu {
    /// The structure, for the driver.
    pub(crate) fn as_raw(&self) -> *mut bindings::iommufd_viommu {
        self.0.as_raw()
    }

    fn raw(&self) -> &bindings::iommufd_viommu {
        self.0.raw()
    }

    /// The driver's operations, once `viommu_init` set them.
    pub(crate) fn ops(&self) -> Option<&bindings::iommufd_viommu_ops> {
        // SAFETY: A driver's ops are static data that outlive its vIOMMUs.
        unsafe { self.raw().ops.as_ref() }
    }
}

impl Drop for DriverViommu {
    fn drop(&mut self) {
        if let Some(destroy) = self.ops().and_then(|ops| ops.destroy) {
            // SAFETY: The driver initialised the structure (it set `ops`); it is destroyed
            // once, here, before the allocation is freed (by the field's drop).
            unsafe { destroy(self.as_raw()) };
        }
    }
}

/// A vIOMMU.
#[pin_data]
pub(crate) struct Viommu {
    header: ObjectHeader,
    /// The driver's structure (dropped, and destroyed, before `hwpt`).
    pub(crate) drv: DriverViommu,
    /// The nest parent.
    hwpt: ObjRef<HwptPaging>,
    /// The devices of its vDEVICEs, by virtual ID (C's `viommu->vdevs`).
    #[pin]
    vdevs: Mutex<KVec<(u64, ARef<Device>)>>,
    /// Its event queues, one per type (C's `viommu->veventqs`).
    #[pin]
    veventqs: Mutex<KVec<QueueRef>>,
}

/// A vEVENTQ a vIOMMU lists.
///
/// # Invariants
///
/// Points to a live [`VEventq`] while listed: a queue removes itself from the list, under
/// the list's lock, before it is freed ([`Viommu::forget_veventq`]).
struct QueueRef(*const VEventq);

// SAFETY: The queue is `Sync`; the pointer is dereferenced only under the list's lock.
unsafe impl Send for QueueRef {}
// SAFETY: As above.
unsafe impl Sync for QueueRef {}

crate::object::object_type!(Viommu, Viommu);

impl Viommu {
    /// The nest parent the vIOMMU holds.
    pub(crate) fn parent(&self) -> &HwptPaging {
        &self.hwpt
    }

    /// The vIOMMU whose driver structure is `raw`.
    ///
    /// # Safety
    ///
    /// `raw` is the driver structure of a live [`Viommu`] (made by [`alloc`]), which stays
    /// alive for `'a`.
    pub(crate) unsafe fn from_raw<'a>(raw: *mut bindings::iommufd_viommu) -> &'a Viommu {
        // SAFETY: By the caller's guarantee.
        unsafe { DriverStruct::owner_of(raw) }
    }

    /// The nest parent.
    pub(crate) fn hwpt(&self) -> &ObjRef<HwptPaging> {
        &self.hwpt
    }

    /// The context the vIOMMU is an object of.
    fn ctx(&self) -> &crate::ctx::IommufdCtx {
        // SAFETY: `alloc` set `ictx` to the context, which outlives its objects.
        unsafe { &*self.drv.raw().ictx.cast::<crate::ctx::IommufdCtx>() }
    }

    /// Exposes `length` bytes of physical memory at `phys` for `mmap()` of `/dev/iommu`,
    /// owned by this vIOMMU (C's `iommufd_viommu_alloc_mmap`); returns the offset.
    ///
    /// # Errors
    ///
    /// `EINVAL` for an unaligned address or length; `ENOSPC`, `ENOMEM`.
    pub(crate) fn alloc_mmap(&self, phys: u64, length: usize) -> Result<usize> {
        // SAFETY: The driver removes its regions in its `destroy`, which runs before the
        // vIOMMU is freed.
        unsafe { self.ctx().mmaps.add(&self.header, phys, length) }
    }

    /// Removes a region of [`Viommu::alloc_mmap`] (C's `iommufd_viommu_destroy_mmap`).
    pub(crate) fn destroy_mmap(&self, offset: usize) {
        self.ctx().mmaps.remove(&self.header, offset);
    }

    /// Records the device `dev` of a new vDEVICE as `virt_id`.
    ///
    /// # Errors
    ///
    /// `EEXIST` if the virtual ID is taken; `ENOMEM`.
    pub(crate) fn add_vdev(&self, virt_id: u64, dev: &Device) -> Result {
        let mut vdevs = self.vdevs.lock();
        if vdevs.iter().any(|(id, _)| *id == virt_id) {
            return Err(EEXIST);
        }
        vdevs.push((virt_id, dev.into()), GFP_KERNEL_ACCOUNT)?;
        Ok(())
    }

    /// Forgets the vDEVICE `virt_id`.
    pub(crate) fn remove_vdev(&self, virt_id: u64) {
        self.vdevs.lock().retain(|(id, _)| *id != virt_id);
    }

    /// Runs `f` on the device of the vDEVICE `virt_id`, if any, while it cannot go (C's
    /// `iommufd_viommu_find_dev` under the `vdevs` lock).
    pub(crate) fn with_dev<R>(&self, virt_id: u64, f: impl FnOnce(Option<&Device>) -> R) -> R {
        let vdevs = self.vdevs.lock();
        f(vdevs
            .iter()
            .find(|(id, _)| *id == virt_id)
            .map(|(_, d)| &**d))
    }

    /// The virtual ID of `dev` on this vIOMMU (C's `iommufd_viommu_get_vdev_id`).
    ///
    /// # Errors
    ///
    /// `ENOENT` if the device has no vDEVICE here.
    pub(crate) fn vdev_id_of(&self, dev: &Device) -> Result<u64> {
        let vdevs = self.vdevs.lock();
        vdevs
            .iter()
            .find(|(_, d)| core::ptr::eq(&**d, dev))
            .map(|(id, _)| *id)
            .ok_or(ENOENT)
    }

    /// Lists the event queue `q`.
    ///
    /// # Errors
    ///
    /// `EEXIST` if a queue of its type is listed; `ENOMEM`.
    pub(crate) fn add_veventq(&self, q: &VEventq) -> Result {
        let mut list = self.veventqs.lock();
        // SAFETY: Listed queues are live (type invariant of `QueueRef`).
        if list.iter().any(|r| unsafe { (*r.0).ty } == q.ty) {
            return Err(EEXIST);
        }
        // INVARIANT: `q` removes itself in its drop.
        list.push(QueueRef(q), GFP_KERNEL_ACCOUNT)?;
        Ok(())
    }

    /// Removes the event queue `q` from the list, if listed.
    pub(crate) fn forget_veventq(&self, q: &VEventq) {
        self.veventqs.lock().retain(|r| !core::ptr::eq(r.0, q));
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
        // SAFETY: Listed queues are live while the lock is held (type invariant).
        let q = list
            .iter()
            .map(|r| unsafe { &*r.0 })
            .find(|q| q.ty == ty)
            .ok_or(EOPNOTSUPP)?;
        q.report(data)
    }

    /// Whether the driver keeps state of its own per vDEVICE (`vdevice_size`).
    pub(crate) fn has_vdevice_ops(&self) -> bool {
        self.drv
            .ops()
            .is_some_and(|ops| ops.vdevice_size != 0 || ops.vdevice_init.is_some())
    }

    /// The IOMMU instance it belongs to.
    pub(crate) fn iommu_dev(&self) -> *mut bindings::iommu_device {
        self.drv.raw().iommu_dev
    }

    /// Allocates a nested domain through the driver (`alloc_domain_nested`).
    ///
    /// # Errors
    ///
    /// `EOPNOTSUPP` if the driver cannot; what it returns.
    pub(crate) fn alloc_domain_nested(&self, flags: u32, data: &UserData) -> Result<Domain> {
        let alloc = self
            .drv
            .ops()
            .and_then(|ops| ops.alloc_domain_nested)
            .ok_or(EOPNOTSUPP)?;
        let raw = data.as_raw();
        // SAFETY: The vIOMMU is initialised and `raw` valid for the call; the result is an
        // error pointer or a new domain that is ours.
        unsafe {
            Domain::from_driver_nested(
                alloc(self.drv.as_raw(), flags, &raw),
                (*self.iommu_dev()).ops,
            )
        }
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
        let f = self
            .drv
            .ops()
            .and_then(|ops| ops.cache_invalidate)
            .ok_or(InvalidateError::NotCalled(EOPNOTSUPP))?;
        let mut raw = array.as_raw();
        // SAFETY: The vIOMMU is initialised and `raw` valid for the call.
        let r = kernel::error::to_result(unsafe { f(self.drv.as_raw(), &mut raw) });
        array.entry_num = raw.entry_num;
        r.map_err(InvalidateError::Called)
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
    let ops = kernel::iommu::domain::device_ops(&idev.dev).ok_or(ENODEV)?;
    // SAFETY: A driver's ops live as long as devices are bound to it, which `dev` is.
    let (get_size, init) = unsafe { ((*ops).get_viommu_size, (*ops).viommu_init) };
    let (Some(get_size), Some(init)) = (get_size, init) else {
        return Err(EOPNOTSUPP);
    };
    let dev = crate::device::raw(&idev.dev);
    // SAFETY: `dev` is a device the driver probed.
    let size = unsafe { get_size(dev, cmd.type_) };
    if size == 0 {
        return Err(EOPNOTSUPP);
    }
    let hwpt = objects.get::<HwptPaging>(cmd.hwpt_id)?;
    if !hwpt.nest_parent {
        return Err(EINVAL);
    }
    let reservation = objects.reserve()?;
    let mut drv = DriverStruct::<bindings::iommufd_viommu, Viommu>::alloc(size)?;
    {
        let core = drv.raw_mut();
        core.obj.type_ = bindings::iommufd_object_type_IOMMUFD_OBJ_VIOMMU;
        core.obj.id = reservation.id();
        core.type_ = cmd.type_;
        // Drivers treat the context as a handle they pass back to iommufd.
        core.ictx = core::ptr::from_ref::<crate::ctx::IommufdCtx>(ucmd.ctx)
            .cast_mut()
            .cast();
        core.iommu_dev = crate::device::iommu_dev(&idev.dev);
    }
    let viommu = Arc::pin_init(
        pin_init!(Viommu {
            header: ObjectHeader::new(),
            drv: DriverViommu(drv),
            hwpt,
            vdevs <- new_mutex!(KVec::new()),
            veventqs <- new_mutex!(KVec::new()),
        }),
        GFP_KERNEL_ACCOUNT,
    )?;
    // SAFETY: The structure is a field of the `Viommu`, which the `Arc` keeps at this
    // address.
    unsafe {
        viommu
            .drv
            .0
            .set_owner(core::ptr::from_ref::<Viommu>(&viommu))
    };
    let data = UserData {
        data_type: cmd.type_,
        uptr: cmd.data_uptr as usize,
        len: cmd.data_len as usize,
    };
    let raw_data = data.as_raw();
    let data_ptr = if cmd.data_len != 0 {
        core::ptr::from_ref(&raw_data)
    } else {
        core::ptr::null()
    };
    // SAFETY: The structure's core part is filled; the parent's domain is valid and held
    // by the vIOMMU; `data_ptr` is null or valid for the call.
    kernel::error::to_result(unsafe {
        init(viommu.drv.as_raw(), viommu.hwpt.domain.as_raw(), data_ptr)
    })?;
    if viommu.drv.ops().is_none() {
        // A driver bug: `viommu_init` must set the ops.
        kernel::warn_on!(true);
        return Err(EOPNOTSUPP);
    }
    cmd.out_viommu_id = reservation.id();
    let prepared = reservation.prepare(viommu)?;
    ucmd.respond(cmd)?;
    prepared.publish();
    Ok(())
}
