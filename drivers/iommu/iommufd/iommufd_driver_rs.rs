// SPDX-License-Identifier: GPL-2.0

//! The iommufd driver core: what IOMMU drivers and the iommu core call on iommufd's objects.
//!
//! IOMMU drivers (arm-smmu-v3, AMD-Vi, the mock) and the iommu core may be built into the
//! kernel, so the functions of `include/linux/iommufd.h` they call, and `iommufd_sw_msi()`
//! that `iommu_dma_prepare_msi()` calls, live in the kernel image (C's
//! CONFIG_IOMMUFD_DRIVER_CORE); `iommufd_driver_exports.c` exports them under C's names,
//! signatures and namespace. What needs only the structures drivers embed (C's layout,
//! `include/linux/iommufd.h`) is done here: finding a vDEVICE in `viommu->vdevs`, the
//! checks C makes before it acts. What needs iommufd's own objects is done by the module,
//! which lends its operations while loaded ([`iommufd_driver_core_register`],
//! `driver_core.h`).
//!
//! # Lifetime of the operations
//!
//! Every call names an object of the module (a vIOMMU, a vDEVICE, a HW queue, a domain of
//! an iommufd HWPT); such an object exists only while a file of the module is open, which
//! holds the module. The module registers its operations before it can make objects and
//! unregisters them when it is unloaded, so the operations outlive every call that can
//! reach them.

#![allow(clippy::missing_safety_doc)]

use core::{
    ptr::null_mut,
    sync::atomic::{AtomicPtr, Ordering},
};
use kernel::{
    bindings,
    ffi::{c_int, c_ulong, c_void},
    prelude::*,
    xarray::{Unowned, XArray},
};

/// The module's operations.
type Ops = bindings::iommufd_driver_core_ops;

/// The registered operations, null while the module is not loaded.
static OPS: AtomicPtr<Ops> = AtomicPtr::new(null_mut());

/// The registered operations, if any.
fn ops() -> Option<&'static Ops> {
    // SAFETY: A registered table stays valid until it is unregistered, which happens only
    // once no object a caller could name is left (see the module documentation).
    unsafe { OPS.load(Ordering::Acquire).as_ref() }
}

/// Lends the module's operations to the driver core.
///
/// # Safety
///
/// `ops` stays valid until [`iommufd_driver_core_unregister`] is called with it, which the
/// caller does only when none of its objects is left.
#[export]
pub unsafe extern "C" fn iommufd_driver_core_register(ops: *const Ops) -> c_int {
    match OPS.compare_exchange(
        null_mut(),
        ops.cast_mut(),
        Ordering::AcqRel,
        Ordering::Acquire,
    ) {
        Ok(_) => 0,
        Err(_) => EBUSY.to_errno(),
    }
}

/// Takes back what [`iommufd_driver_core_register`] lent.
///
/// # Safety
///
/// `ops` was registered; none of the module's objects is left.
#[export]
pub unsafe extern "C" fn iommufd_driver_core_unregister(ops: *const Ops) {
    let r = OPS.compare_exchange(
        ops.cast_mut(),
        null_mut(),
        Ordering::AcqRel,
        Ordering::Acquire,
    );
    kernel::warn_on!(r.is_err());
}

/// Makes `depended` outlive `dependent`, two objects of the same type (C's
/// `_iommufd_object_depend()`, behind `iommufd_hw_queue_depend()`).
///
/// Returns `-EINVAL` for one object or two of different types.
///
/// # Safety
///
/// Both are the core parts of live objects of the module, from their driver.
#[export]
pub unsafe extern "C" fn _iommufd_object_depend(
    dependent: *mut bindings::iommufd_object,
    depended: *mut bindings::iommufd_object,
) -> c_int {
    // A dependency on itself would never let the object go.
    // SAFETY: Both are live (the caller's guarantee).
    if dependent == depended || unsafe { (*dependent).type_ != (*depended).type_ } {
        return EINVAL.to_errno();
    }
    match ops().and_then(|o| o.object_depend) {
        // SAFETY: As checked above, by the caller's guarantee.
        Some(f) => unsafe { f(dependent, depended) },
        None => EOPNOTSUPP.to_errno(),
    }
}

/// Undoes [`_iommufd_object_depend`].
///
/// # Safety
///
/// As for [`_iommufd_object_depend`], for a dependency it made.
#[export]
pub unsafe extern "C" fn _iommufd_object_undepend(
    dependent: *mut bindings::iommufd_object,
    depended: *mut bindings::iommufd_object,
) {
    // SAFETY: Both are live (the caller's guarantee).
    let bad = dependent == depended || unsafe { (*dependent).type_ != (*depended).type_ };
    if kernel::warn_on!(bad) {
        return;
    }
    if let Some(f) = ops().and_then(|o| o.object_undepend) {
        // SAFETY: By the caller's guarantee.
        unsafe { f(dependent, depended) };
    }
}

/// Exposes `length` bytes of MMIO at `mmio_addr`, owned by `owner`, to `mmap()` of the
/// file of `ictx`; writes the offset to `offset` (C's `_iommufd_alloc_mmap()`, behind
/// `iommufd_viommu_alloc_mmap()`).
///
/// # Safety
///
/// `owner` is the core part of a live object of the context `ictx`; `offset` is valid for
/// a write.
#[export]
pub unsafe extern "C" fn _iommufd_alloc_mmap(
    ictx: *mut bindings::iommufd_ctx,
    owner: *mut bindings::iommufd_object,
    mmio_addr: bindings::phys_addr_t,
    length: usize,
    offset: *mut c_ulong,
) -> c_int {
    match ops().and_then(|o| o.alloc_mmap) {
        // SAFETY: By the caller's guarantee.
        Some(f) => unsafe { f(ictx, owner, mmio_addr, length, offset) },
        None => EOPNOTSUPP.to_errno(),
    }
}

/// Removes a region of [`_iommufd_alloc_mmap`] (C's `_iommufd_destroy_mmap()`).
///
/// # Safety
///
/// As for [`_iommufd_alloc_mmap`].
#[export]
pub unsafe extern "C" fn _iommufd_destroy_mmap(
    ictx: *mut bindings::iommufd_ctx,
    owner: *mut bindings::iommufd_object,
    offset: c_ulong,
) {
    if let Some(f) = ops().and_then(|o| o.destroy_mmap) {
        // SAFETY: By the caller's guarantee.
        unsafe { f(ictx, owner, offset) };
    }
}

/// The device of the vDEVICE `vdev`.
///
/// # Safety
///
/// `vdev` is the core part of a live vDEVICE of the module.
#[export]
pub unsafe extern "C" fn iommufd_vdevice_to_device(
    vdev: *mut bindings::iommufd_vdevice,
) -> *mut bindings::device {
    match ops().and_then(|o| o.device_of) {
        // SAFETY: A live vDEVICE names the bound device it was made for, which outlives it.
        Some(f) => unsafe { f((*vdev).idev) },
        None => null_mut(),
    }
}

/// The vDEVICEs of `viommu` by virtual ID.
///
/// # Safety
///
/// `viommu` is the core part of a vIOMMU of the module that stays alive for `'a`.
unsafe fn vdevs_of<'a>(
    viommu: *mut bindings::iommufd_viommu,
) -> &'a XArray<Unowned<bindings::iommufd_vdevice>> {
    // SAFETY: The module initialises a vIOMMU's `vdevs` before a driver sees the vIOMMU,
    // destroys it after the last driver call, and keeps in it only the addresses of its live
    // vDEVICEs (`driver/viommu.rs` in the module); the structure outlives `'a`.
    unsafe { XArray::from_raw(&raw mut (*viommu).vdevs) }
}

/// The device of the vDEVICE `vdev_id` of `viommu`, or null (C's
/// `iommufd_viommu_find_dev()`). The caller holds `xa_lock(&viommu->vdevs)`, which keeps
/// the answer valid.
///
/// # Safety
///
/// `viommu` is the core part of a live vIOMMU of the module.
#[export]
pub unsafe extern "C" fn iommufd_viommu_find_dev(
    viommu: *mut bindings::iommufd_viommu,
    vdev_id: c_ulong,
) -> *mut bindings::device {
    // SAFETY: `viommu` is live, by the caller's guarantee.
    let vdevs = unsafe { vdevs_of(viommu) };
    // SAFETY: The caller holds the lock (lockdep checks) and no guard of ours is in use.
    let vdevs = unsafe { vdevs.assume_locked() };
    match vdevs.get(vdev_id) {
        // SAFETY: An entry is a live vDEVICE (a slot being set up reads back as empty),
        // which stays while the caller holds the lock.
        Some(entry) => unsafe { iommufd_vdevice_to_device(entry.as_ptr()) },
        None => null_mut(),
    }
}

/// The virtual ID of `dev` on `viommu` (C's `iommufd_viommu_get_vdev_id()`).
///
/// Returns `-ENOENT` if the device has no vDEVICE there, `-EINVAL` for a null `vdev_id`.
///
/// # Safety
///
/// `viommu` is the core part of a live vIOMMU of the module; `vdev_id` is null or valid for
/// a write.
#[export]
pub unsafe extern "C" fn iommufd_viommu_get_vdev_id(
    viommu: *mut bindings::iommufd_viommu,
    dev: *mut bindings::device,
    vdev_id: *mut c_ulong,
) -> c_int {
    if kernel::warn_on!(vdev_id.is_null()) {
        return EINVAL.to_errno();
    }
    // SAFETY: `viommu` is live, by the caller's guarantee.
    let vdevs = unsafe { vdevs_of(viommu) }.lock();
    let mut start = 0;
    while let Some((index, entry)) = vdevs.find(start) {
        let vdev = entry.as_ptr();
        // SAFETY: An entry is a live vDEVICE, which stays while the lock is held; `vdev_id`
        // is valid for a write (the caller's guarantee).
        unsafe {
            if iommufd_vdevice_to_device(vdev) == dev {
                *vdev_id = (*vdev).virt_id as c_ulong;
                return 0;
            }
        }
        match index.checked_add(1) {
            Some(next) => start = next,
            None => break,
        }
    }
    ENOENT.to_errno()
}

/// Queues an event of `type_` with `data_len` bytes of `event_data` on the vIOMMU's event
/// queue of that type (C's `iommufd_viommu_report_event()`); may be called from a threaded
/// interrupt handler.
///
/// Returns `-EOPNOTSUPP` without such a queue, `-ENOMEM` if the event was lost (the queue
/// then reports a lost event), `-EINVAL` for no data.
///
/// # Safety
///
/// `viommu` is the core part of a live vIOMMU of the module; `event_data` is valid for
/// `data_len` bytes.
#[export]
pub unsafe extern "C" fn iommufd_viommu_report_event(
    viommu: *mut bindings::iommufd_viommu,
    type_: bindings::iommu_veventq_type,
    event_data: *mut c_void,
    data_len: usize,
) -> c_int {
    if kernel::warn_on!(data_len == 0 || event_data.is_null()) {
        return EINVAL.to_errno();
    }
    match ops().and_then(|o| o.report_event) {
        // SAFETY: By the caller's guarantee.
        Some(f) => unsafe { f(viommu, type_, event_data, data_len) },
        None => EOPNOTSUPP.to_errno(),
    }
}

/// Maps the MSI doorbell page of `msi_addr` into `domain`, a domain of an iommufd HWPT, at
/// the IOVA the file gives that doorbell, and tells the MSI layer that IOVA (C's
/// `iommufd_sw_msi()`, called by `iommu_dma_prepare_msi()` under the group's mutex).
///
/// # Safety
///
/// `domain` is a domain of the module attached to the group of `desc`'s device, whose
/// mutex the caller holds; `desc` is valid.
#[cfg(CONFIG_IRQ_MSI_IOMMU)]
// Checked against `iommu-priv.h` where that declares it (with IRQ_MSI_IOMMU; else the
// header has an inline stub and nothing calls this).
#[cfg_attr(CONFIG_IRQ_MSI_IOMMU, export)]
#[cfg_attr(not(CONFIG_IRQ_MSI_IOMMU), no_mangle)]
pub unsafe extern "C" fn iommufd_sw_msi(
    domain: *mut bindings::iommu_domain,
    desc: *mut bindings::msi_desc,
    msi_addr: bindings::phys_addr_t,
) -> c_int {
    match ops().and_then(|o| o.sw_msi) {
        // SAFETY: By the caller's guarantee.
        Some(f) => unsafe { f(domain, desc, msi_addr) },
        None => EOPNOTSUPP.to_errno(),
    }
}
