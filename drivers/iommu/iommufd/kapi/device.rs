// SPDX-License-Identifier: GPL-2.0

//! `struct iommufd_device *`: a device a driver bound to a context.
//!
//! # Invariants
//!
//! A device handle is [`Arc::into_raw`] of the bound [`IDevice`]: the handle owns that
//! reference from [`iommufd_device_bind`] until [`iommufd_device_unbind`] takes it back.
//! While the handle lives the object is also in its context's table, where the driver is
//! one of its users, so user space cannot destroy it.

use core::mem::ManuallyDrop;
use kernel::{bindings, device::Device, ffi::c_int, prelude::*, sync::Arc};

use crate::{ctx::CtxRef, device::idev::IDevice};

use super::{borrow_handle, ctx_ref, from_handle, into_handle, to_int};

/// The bound device of a handle, borrowed.
///
/// # Safety
///
/// `idev` is a device handle the caller holds, and does not unbind while it uses the
/// result.
unsafe fn borrow(idev: *mut bindings::iommufd_device) -> ManuallyDrop<Arc<IDevice>> {
    // SAFETY: By the type invariant the handle was made by `into_handle` from the device's
    // `Arc`; the caller holds it.
    unsafe { borrow_handle(idev) }
}

/// The handle of `idev` without a reference of its own (`Arc::as_ptr`, the same pointer as
/// an owning handle): what a vDEVICE's `idev` holds for drivers, valid while `idev` is.
pub(crate) fn handle_of(idev: &Arc<IDevice>) -> *mut bindings::iommufd_device {
    Arc::as_ptr(idev).cast_mut().cast()
}

/// The bound device of a handle of [`handle_of`] or [`iommufd_device_bind`].
///
/// # Safety
///
/// `idev` is such a handle of a device that stays alive for `'a`.
pub(crate) unsafe fn from_handle_ref<'a>(idev: *mut bindings::iommufd_device) -> &'a IDevice {
    // SAFETY: Both kinds of handle point to the `IDevice` of an `Arc`, alive for `'a` by
    // the caller's guarantee.
    unsafe { &*idev.cast::<IDevice>() }
}

/// Binds `dev` to the context `ictx` (`iommufd_device_bind()`): claims the DMA ownership
/// of its IOMMU group for the context and creates the device object, whose id is written
/// to `id`.
///
/// # Errors
///
/// `ERR_PTR` of: `-EINVAL` if no IOMMU translates for the device or its IOMMU cannot
/// keep DMA coherent, `-ENODEV` if it has no IOMMU group, `-EPERM` if its MSIs are not
/// isolated (and the module parameter `allow_unsafe_interrupts` is not set), `-EBUSY` if
/// another owner has its group, `-ENOMEM`.
///
/// # Safety
///
/// `ictx` is a context handle the caller holds; `dev` a valid device, bound to the
/// calling driver; `id` valid for writes.
#[export]
pub(crate) unsafe extern "C" fn iommufd_device_bind(
    ictx: *mut bindings::iommufd_ctx,
    dev: *mut bindings::device,
    id: *mut u32,
) -> *mut bindings::iommufd_device {
    // SAFETY: The caller holds the handle.
    let ctx = CtxRef::of(unsafe { ctx_ref(ictx) });
    // SAFETY: The caller passes a valid device, bound to it for the call.
    let dev = unsafe { Device::from_raw(dev) };
    match IDevice::bind(ctx, dev, true) {
        Ok(idev) => {
            // SAFETY: The caller passes a pointer valid for writes.
            unsafe { id.write(idev.id()) };
            // INVARIANT: The handle owns this reference until unbind.
            into_handle(idev)
        }
        Err(e) => e.to_ptr(),
    }
}

/// Undoes [`iommufd_device_bind`] (`iommufd_device_unbind()`): removes the device object,
/// waiting for the ioctls that use it, and gives the DMA ownership of the group back. The
/// driver detached the device first.
///
/// # Safety
///
/// `idev` is a device handle of the caller, which it no longer uses.
#[export]
pub(crate) unsafe extern "C" fn iommufd_device_unbind(idev: *mut bindings::iommufd_device) {
    // SAFETY: By the type invariant the handle owns this reference, made by `into_handle`;
    // the caller gives it back.
    let idev: Arc<IDevice> = unsafe { from_handle(idev) };
    IDevice::unbind(&idev);
}

/// Attaches `pasid` of the device (`IOMMU_NO_PASID` for its requests without PASID) to
/// the IOAS or HWPT `*pt_id` (`iommufd_device_attach()`); for an IOAS, `*pt_id` becomes
/// the id of the HWPT used.
///
/// # Errors
///
/// `-ENOENT` for an unknown id, `-EINVAL` for an object that is neither or a HWPT that
/// does not suit the device, `-EBUSY` if `pasid` is attached, and as filling a new
/// domain from the IOAS fails (`-ENOMEM`, `-EADDRINUSE`).
///
/// # Safety
///
/// `idev` is a device handle the caller holds; `pt_id` is valid for reads and writes.
#[export]
pub(crate) unsafe extern "C" fn iommufd_device_attach(
    idev: *mut bindings::iommufd_device,
    pasid: u32,
    pt_id: *mut u32,
) -> c_int {
    // SAFETY: The caller holds the handle.
    let idev = unsafe { borrow(idev) };
    // SAFETY: The caller passes a pointer valid for reads and writes, for the call.
    to_int(IDevice::attach(&idev, pasid, unsafe { &mut *pt_id }))
}

/// Moves the attached `pasid` of the device to the IOAS or HWPT `*pt_id` with no moment
/// in which its DMA is blocked (`iommufd_device_replace()`).
///
/// # Errors
///
/// As [`iommufd_device_attach`]; `-EINVAL` if `pasid` is not attached.
///
/// # Safety
///
/// As [`iommufd_device_attach`].
#[export]
pub(crate) unsafe extern "C" fn iommufd_device_replace(
    idev: *mut bindings::iommufd_device,
    pasid: u32,
    pt_id: *mut u32,
) -> c_int {
    // SAFETY: The caller holds the handle.
    let idev = unsafe { borrow(idev) };
    // SAFETY: The caller passes a pointer valid for reads and writes, for the call.
    to_int(IDevice::replace(&idev, pasid, unsafe { &mut *pt_id }))
}

/// Detaches `pasid` of the device (`iommufd_device_detach()`).
///
/// # Safety
///
/// `idev` is a device handle the caller holds.
#[export]
pub(crate) unsafe extern "C" fn iommufd_device_detach(
    idev: *mut bindings::iommufd_device,
    pasid: u32,
) {
    // SAFETY: The caller holds the handle.
    let idev = unsafe { borrow(idev) };
    IDevice::detach(&idev, pasid);
}

/// The context the device is bound to, as an uncounted handle valid while the device is
/// bound (`iommufd_device_to_ictx()`).
///
/// # Safety
///
/// `idev` is a device handle the caller holds.
#[export]
pub(crate) unsafe extern "C" fn iommufd_device_to_ictx(
    idev: *mut bindings::iommufd_device,
) -> *mut bindings::iommufd_ctx {
    // SAFETY: The caller holds the handle.
    let idev = unsafe { borrow(idev) };
    core::ptr::from_ref(idev.ctx()).cast_mut().cast()
}

/// The id of the device object (`iommufd_device_to_id()`).
///
/// # Safety
///
/// `idev` is a device handle the caller holds.
#[export]
pub(crate) unsafe extern "C" fn iommufd_device_to_id(idev: *mut bindings::iommufd_device) -> u32 {
    // SAFETY: The caller holds the handle.
    unsafe { borrow(idev) }.id()
}
