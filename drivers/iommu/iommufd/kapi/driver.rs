// SPDX-License-Identifier: GPL-2.0

//! The operations this module lends the built-in driver core (`iommufd_driver_rs.rs`,
//! `driver_core.h`), which IOMMU drivers and the iommu core call under C's names
//! (`_iommufd_object_depend`, `_iommufd_alloc_mmap`, `iommufd_viommu_report_event`, ...).
//!
//! The objects drivers name are the C structures they embed, which start with `struct
//! iommufd_object` ([`crate::driver`]): a vIOMMU, a vDEVICE or a HW queue. Their
//! allocation points back to the Rust object that owns them, so each call finds its
//! object without a lookup. A device is named by its C handle (`struct iommufd_device *`,
//! [`super::device`]), which a vDEVICE's `idev` holds.

use kernel::{
    bindings,
    ffi::{c_int, c_ulong, c_void},
    prelude::*,
    sync::Arc,
};

use crate::{
    ctx::IommufdCtx,
    driver::{hw_queue::DriverHwQueue, vdevice::DriverVdevice, viommu::DriverViommu},
    object::{ObjectHeader, ObjectType},
    pagetable::{hwpt::HwptPaging, nested::HwptNested},
};

/// The header of the object whose driver structure starts with `obj`; `None` for a type
/// drivers do not embed.
///
/// # Safety
///
/// `obj` is the core part of the driver structure of a live object of this module, alive
/// for `'a`.
unsafe fn header_of<'a>(obj: *mut bindings::iommufd_object) -> Option<&'a ObjectHeader> {
    // SAFETY: By the caller's guarantee; the type says which structure `obj` starts.
    unsafe {
        match (*obj).type_ {
            bindings::iommufd_object_type_IOMMUFD_OBJ_VIOMMU => {
                Some(DriverViommu::owner(obj.cast()).header())
            }
            bindings::iommufd_object_type_IOMMUFD_OBJ_VDEVICE => {
                Some(DriverVdevice::owner(obj.cast()).header())
            }
            bindings::iommufd_object_type_IOMMUFD_OBJ_HW_QUEUE => {
                Some(DriverHwQueue::owner(obj.cast()).header())
            }
            _ => None,
        }
    }
}

/// `object_depend`: `depended` gains a user, so it cannot be destroyed (`EBUSY`) before
/// `dependent` undoes this.
///
/// # Safety
///
/// Both are the core parts of live objects of this module, of the same type (the driver
/// core checked).
unsafe extern "C" fn object_depend(
    _dependent: *mut bindings::iommufd_object,
    depended: *mut bindings::iommufd_object,
) -> c_int {
    // SAFETY: By the caller's guarantee.
    match unsafe { header_of(depended) } {
        Some(header) => {
            header.add_user();
            0
        }
        None => {
            kernel::warn_on!(true);
            EINVAL.to_errno()
        }
    }
}

/// `object_undepend`: undoes [`object_depend`].
///
/// # Safety
///
/// As for [`object_depend`], for a dependency it made.
unsafe extern "C" fn object_undepend(
    _dependent: *mut bindings::iommufd_object,
    depended: *mut bindings::iommufd_object,
) {
    // SAFETY: By the caller's guarantee.
    if let Some(header) = unsafe { header_of(depended) } {
        header.put_user();
    }
}

/// `alloc_mmap`: exposes `length` bytes at `mmio_addr` for `mmap()` of the context's file,
/// owned by `owner`, which removes the region before it is freed.
///
/// # Safety
///
/// `ictx` is the context of `owner`, the core part of a live object; `offset` is valid for
/// a write.
unsafe extern "C" fn alloc_mmap(
    ictx: *mut bindings::iommufd_ctx,
    owner: *mut bindings::iommufd_object,
    mmio_addr: bindings::phys_addr_t,
    length: usize,
    offset: *mut c_ulong,
) -> c_int {
    // SAFETY: Drivers pass the context the core gave them (`viommu->ictx`), a pointer to
    // it, which outlives its objects.
    let ctx = unsafe { &*ictx.cast::<IommufdCtx>() };
    // SAFETY: By the caller's guarantee.
    let Some(header) = (unsafe { header_of(owner) }) else {
        return EINVAL.to_errno();
    };
    // SAFETY: Drivers remove their regions when their structure is destroyed, before the
    // owner is freed.
    match unsafe { ctx.mmaps.add(header, mmio_addr, length) } {
        Ok(off) => {
            // SAFETY: By the caller's guarantee.
            unsafe { *offset = off };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// `destroy_mmap`: removes a region of [`alloc_mmap`].
///
/// # Safety
///
/// As for [`alloc_mmap`].
unsafe extern "C" fn destroy_mmap(
    ictx: *mut bindings::iommufd_ctx,
    owner: *mut bindings::iommufd_object,
    offset: c_ulong,
) {
    // SAFETY: As in `alloc_mmap`.
    let ctx = unsafe { &*ictx.cast::<IommufdCtx>() };
    // SAFETY: By the caller's guarantee.
    if let Some(header) = unsafe { header_of(owner) } {
        ctx.mmaps.remove(header, offset);
    }
}

/// `device_of`: the `struct device` of a bound device; does not sleep.
///
/// # Safety
///
/// `idev` is the C handle of a live bound device ([`super::device::handle_of`]).
unsafe extern "C" fn device_of(idev: *mut bindings::iommufd_device) -> *mut bindings::device {
    // SAFETY: By the caller's guarantee.
    crate::kapi::raw_device(&unsafe { super::device::from_handle_ref(idev) }.dev)
}

/// `report_event`: queues `data_len` bytes of `event_data` on the vIOMMU's event queue of
/// `type_`.
///
/// # Safety
///
/// `viommu` is the core part of a live vIOMMU; `event_data` is valid for `data_len` bytes.
unsafe extern "C" fn report_event(
    viommu: *mut bindings::iommufd_viommu,
    type_: bindings::iommu_veventq_type,
    event_data: *mut c_void,
    data_len: usize,
) -> c_int {
    // SAFETY: By the caller's guarantee.
    let (viommu, data) = unsafe {
        (
            DriverViommu::owner(viommu),
            core::slice::from_raw_parts(event_data.cast::<u8>(), data_len),
        )
    };
    match viommu.report_event(type_, data) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `sw_msi` (`iommufd_sw_msi()`): the iommu core asks for the doorbell `msi_addr` of an
/// MSI of `desc`'s device, attached to `domain`, a domain of an iommufd HWPT.
///
/// Returns 0 without touching the message if the device's RID is attached through no
/// iommufd handle or has no SW_MSI window; a negative errno as
/// [`crate::system::msi::GroupMsi::map_doorbell`] fails.
///
/// # Safety
///
/// The caller holds the mutex of the device's IOMMU group, to which `domain` is attached;
/// `desc` is valid.
#[cfg(CONFIG_IRQ_MSI_IOMMU)]
unsafe extern "C" fn sw_msi(
    domain: *mut bindings::iommu_domain,
    desc: *mut bindings::msi_desc,
    msi_addr: bindings::phys_addr_t,
) -> c_int {
    use crate::system::group::{AttachHandle, NO_PASID};
    // SAFETY: `desc` is valid; under the group's mutex its attach handle cannot change.
    let raw = unsafe {
        let dev = (*desc).dev;
        bindings::iommu_attach_handle_get((*dev).iommu_group, NO_PASID, 0)
    };
    if kernel::error::from_err_ptr(raw).is_err() {
        return 0;
    }
    // SAFETY: The RID of a device attached through iommufd is attached with an iommufd
    // handle, valid while the group's mutex is held; the domain's cookie is the paging
    // HWPT it belongs to or nests on ([`set_sw_msi_cookie`]), alive while the domain is
    // attached.
    let (handle, hwpt) = unsafe {
        let hwpt = kernel::iommu::domain::Domain::iommufd_cookie(domain).cast::<HwptPaging>();
        (AttachHandle::from_raw(raw), hwpt.as_ref())
    };
    let Some(hwpt) = hwpt else {
        kernel::warn_on!(true);
        return EINVAL.to_errno();
    };
    // SAFETY: The page is the interrupt controller's doorbell, MMIO for devices to write
    // their MSIs to, there for as long as the interrupt domain; iommufd maps it, as C does,
    // only into domains that translate the device's MSIs.
    let doorbell = unsafe {
        kernel::iommu::domain::PhysRange::new(
            msi_addr & kernel::page::PAGE_MASK as u64,
            kernel::page::PAGE_SIZE,
        )
    };
    match handle.data().msi().map_doorbell(hwpt, doorbell) {
        Ok(Some(iova)) => {
            // SAFETY: `desc` is valid; the MSI layer reads the IOVA when it composes the
            // message.
            unsafe {
                bindings::msi_desc_set_iommu_msi_iova(desc, iova, kernel::page::PAGE_SHIFT as u32)
            };
            0
        }
        Ok(None) => 0,
        Err(e) => e.to_errno(),
    }
}

/// The `sw_msi` operation of `struct iommufd_driver_core_ops`.
type SwMsiFn = unsafe extern "C" fn(
    *mut bindings::iommu_domain,
    *mut bindings::msi_desc,
    bindings::phys_addr_t,
) -> c_int;

/// The `sw_msi` operation lent to the driver core: only where MSIs can be translated
/// (`CONFIG_IRQ_MSI_IOMMU`).
#[cfg(CONFIG_IRQ_MSI_IOMMU)]
const SW_MSI: Option<SwMsiFn> = Some(sw_msi);

/// The `sw_msi` operation lent to the driver core: none where MSIs are not translated.
#[cfg(not(CONFIG_IRQ_MSI_IOMMU))]
const SW_MSI: Option<SwMsiFn> = None;

/// Where the iommu core's MSI set-up for devices attached to a domain of iommufd goes: the
/// domain of the paging HWPT `hwpt` or of a HWPT nested on it, `domain`.
pub(crate) enum MsiCookie<'a> {
    /// `hwpt`'s own domain.
    Paging(&'a Arc<HwptPaging>),
    /// The domain of `nested`, whose doorbells go into its parent's domain, which
    /// translates them (as C's `find_hwpt_paging()`).
    Nested(&'a Arc<HwptNested>),
}

/// Marks the domain of a new HWPT, attached nowhere yet, as iommufd's, so that the iommu
/// core hands MSI set-up for devices attached to it to [`sw_msi`], which finds the paging
/// HWPT whose domain maps the doorbells.
pub(crate) fn set_sw_msi_cookie(hwpt: MsiCookie<'_>) {
    match hwpt {
        // SAFETY: A new HWPT's domain is attached nowhere yet, so nothing reads the cookie.
        // The domain is attached only through an attachment that holds the HWPT, so the
        // HWPT, which the `Arc` keeps at this address, is alive whenever `sw_msi` reads
        // the cookie.
        MsiCookie::Paging(hwpt) => unsafe {
            hwpt.domain
                .set_iommufd_cookie(Arc::as_ptr(hwpt).cast_mut().cast())
        },
        // SAFETY: As above; the nested HWPT holds its parent while it lives.
        MsiCookie::Nested(hwpt) => unsafe {
            hwpt.domain
                .set_iommufd_cookie(core::ptr::from_ref(hwpt.parent()).cast_mut().cast())
        },
    }
}

/// The operations lent to the driver core.
static OPS: bindings::iommufd_driver_core_ops = bindings::iommufd_driver_core_ops {
    object_depend: Some(object_depend),
    object_undepend: Some(object_undepend),
    alloc_mmap: Some(alloc_mmap),
    destroy_mmap: Some(destroy_mmap),
    device_of: Some(device_of),
    report_event: Some(report_event),
    sw_msi: SW_MSI,
};

/// The module's operations lent to the driver core, taken back when dropped.
///
/// # Invariants
///
/// [`OPS`] is registered with the driver core while this lives.
pub(crate) struct DriverCore(());

impl DriverCore {
    /// Lends [`OPS`] to the driver core.
    ///
    /// # Errors
    ///
    /// `EBUSY` if another module lent its operations (a second iommufd).
    pub(crate) fn register() -> Result<Self> {
        // SAFETY: `OPS` is static; it is taken back in `drop`, when the module goes, after
        // its device nodes (no file, so no object, is left).
        kernel::error::to_result(unsafe { bindings::iommufd_driver_core_register(&OPS) })?;
        // INVARIANT: Registered above.
        Ok(Self(()))
    }
}

impl Drop for DriverCore {
    fn drop(&mut self) {
        // SAFETY: Registered (type invariant); no object is left (see `register`).
        unsafe { bindings::iommufd_driver_core_unregister(&OPS) };
    }
}
