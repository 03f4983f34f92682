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
    iommu::domain::{Domain, UserData, UserDataArray},
    new_mutex,
    prelude::*,
    sync::Arc,
    sync::Mutex,
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
        // SAFETY: `alloc` initialised `vdevs` first thing; every vDEVICE, which holds the
        // vIOMMU, left it.
        unsafe { bindings::xa_destroy(&raw mut (*self.as_raw()).vdevs) };
    }
}

/// A driver's `vdevice_init`.
pub(crate) type VdeviceInit =
    unsafe extern "C" fn(vdev: *mut bindings::iommufd_vdevice) -> kernel::ffi::c_int;

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

    /// The vDEVICEs by virtual ID: C's `viommu->vdevs`, which drivers look up under its
    /// lock (`iommufd_viommu_find_dev()`).
    fn vdevs(&self) -> *mut bindings::xarray {
        // SAFETY: The structure is valid while the vIOMMU is.
        unsafe { &raw mut (*self.drv.as_raw()).vdevs }
    }

    /// Reserves the slot of the virtual ID `virt_id` (it reads back as empty until
    /// [`Viommu::store_vdev`]).
    ///
    /// # Errors
    ///
    /// `EEXIST` if the virtual ID is taken; `ENOMEM`.
    pub(crate) fn reserve_vdev(&self, virt_id: u64) -> Result {
        let xa = self.vdevs();
        // SAFETY: `vdevs` is initialised (`alloc`); `__xa_insert` is called under its lock,
        // which it may drop to allocate. A null entry reserves the slot.
        let r = unsafe {
            bindings::xa_lock(xa);
            let r = bindings::__xa_insert(
                xa,
                virt_id as usize,
                core::ptr::null_mut(),
                bindings::GFP_KERNEL_ACCOUNT,
            );
            bindings::xa_unlock(xa);
            r
        };
        match r {
            0 => Ok(()),
            r if r == EBUSY.to_errno() => Err(EEXIST),
            r => Err(Error::from_errno(r)),
        }
    }

    /// Puts the vDEVICE `vdev` in the slot `virt_id` reserved for it.
    pub(crate) fn store_vdev(&self, virt_id: u64, vdev: *mut bindings::iommufd_vdevice) {
        // SAFETY: `vdevs` is initialised; the slot is reserved, so the store replaces the
        // reservation in place and allocates nothing.
        let old = unsafe {
            bindings::xa_store(
                self.vdevs(),
                virt_id as usize,
                vdev.cast(),
                bindings::GFP_KERNEL_ACCOUNT,
            )
        };
        kernel::warn_on!(!old.is_null());
    }

    /// Empties the slot `virt_id` if it holds `vdev` or a reservation (the vDEVICE is going,
    /// or its setup failed).
    pub(crate) fn forget_vdev(&self, virt_id: u64, vdev: *mut bindings::iommufd_vdevice) {
        let xa = self.vdevs();
        // SAFETY: `vdevs` is initialised. Only the vDEVICE that reserved a slot stores into
        // it or erases it, so a reservation at `virt_id` is this vDEVICE's, and erasing
        // needs no memory.
        unsafe {
            bindings::xa_lock(xa);
            let cur = bindings::xa_load(xa, virt_id as usize);
            if cur.is_null() || cur == vdev.cast() {
                bindings::__xa_erase(xa, virt_id as usize);
            }
            bindings::xa_unlock(xa);
        }
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

    /// The size of the driver's vDEVICE structure (0 if it has none of its own) and its
    /// `vdevice_init`.
    pub(crate) fn vdevice_ops(&self) -> (usize, Option<VdeviceInit>) {
        self.drv
            .ops()
            .map_or((0, None), |ops| (ops.vdevice_size, ops.vdevice_init))
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
        // SAFETY: The structure is at its final address (a heap allocation).
        unsafe { bindings::xa_init_flags(&mut core.vdevs, 0) };
    }
    let viommu = Arc::pin_init(
        pin_init!(Viommu {
            header: ObjectHeader::new(),
            drv: DriverViommu(drv),
            hwpt,
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
