// SPDX-License-Identifier: GPL-2.0

//! `struct iommufd_ctx *`: an open `/dev/iommu`, and VFIO's compatibility IOAS in it.
//!
//! # Invariants
//!
//! A context handle points to the [`IommufdCtx`] that is the private data of an open
//! `/dev/iommu` (or `/dev/vfio/vfio`) file. A *counted* handle (from
//! [`iommufd_ctx_from_file`], [`iommufd_ctx_from_fd`] or [`iommufd_ctx_get`]) holds a
//! reference on that file, given back by [`iommufd_ctx_put`], as C's context holds its file;
//! so the context lives as long as the handle.

use kernel::{
    bindings,
    error::Error,
    ffi::c_int,
    fs::{File, LocalFile},
    prelude::*,
};

use crate::{
    ctx::{CtxRef, IommufdCtx},
    device::idev::IDevice,
    pagetable::Ioas,
};

use super::{ctx_of_file, ctx_ref, to_int};

/// `EBADFD`, which the kernel crate does not name: the file is not an open `/dev/iommu`.
fn ebadfd() -> Error {
    Error::from_errno(-(bindings::EBADFD as c_int))
}

/// A counted handle on `ctx`: one more reference on its file.
fn counted(ctx: &IommufdCtx) -> *mut bindings::iommufd_ctx {
    // INVARIANT: The reference on the file is the handle's; `iommufd_ctx_put` drops it.
    core::mem::forget(CtxRef::of(ctx));
    core::ptr::from_ref(ctx).cast_mut().cast()
}

/// Returns a counted context handle for `file`, an open `/dev/iommu`
/// (`iommufd_ctx_from_file()`).
///
/// # Errors
///
/// `ERR_PTR(-EBADFD)` if `file` is not an open `/dev/iommu`.
///
/// # Safety
///
/// `file` is a valid file the caller holds.
#[export]
pub(crate) unsafe extern "C" fn iommufd_ctx_from_file(
    file: *mut bindings::file,
) -> *mut bindings::iommufd_ctx {
    // SAFETY: The caller holds `file` for the call.
    let file = unsafe { File::from_raw_file(file) };
    match ctx_of_file(file) {
        Some(ctx) => counted(ctx),
        None => ebadfd().to_ptr(),
    }
}

/// Returns a counted context handle for the file descriptor `fd` of the current process
/// (`iommufd_ctx_from_fd()`).
///
/// # Errors
///
/// `ERR_PTR(-EBADF)` for a descriptor that is not open, `ERR_PTR(-EBADFD)` if it is not
/// an open `/dev/iommu`.
///
/// # Safety
///
/// None: any descriptor may be passed. The function is `unsafe` only because `#[export]`
/// checks it against the C declaration, which Rust sees as `unsafe`.
#[export]
pub(crate) unsafe extern "C" fn iommufd_ctx_from_fd(fd: c_int) -> *mut bindings::iommufd_ctx {
    let Ok(fd) = u32::try_from(fd) else {
        return EBADF.to_ptr();
    };
    let Ok(file) = LocalFile::fget(fd) else {
        return EBADF.to_ptr();
    };
    match ctx_of_file(&file) {
        Some(ctx) => counted(ctx),
        None => ebadfd().to_ptr(),
    }
}

/// Takes one more reference for a context handle (`iommufd_ctx_get()`).
///
/// # Safety
///
/// `ictx` is a context handle the caller holds.
#[export]
pub(crate) unsafe extern "C" fn iommufd_ctx_get(ictx: *mut bindings::iommufd_ctx) {
    // SAFETY: The caller holds the handle.
    counted(unsafe { ctx_ref(ictx) });
}

/// Gives back the reference of a counted context handle (`iommufd_ctx_put()`).
///
/// # Safety
///
/// `ictx` is a counted handle of the caller, which it no longer uses.
#[export]
pub(crate) unsafe extern "C" fn iommufd_ctx_put(ictx: *mut bindings::iommufd_ctx) {
    // SAFETY: The caller holds the handle, so the context and its file are valid here.
    let file = unsafe { ctx_ref(ictx) }.file().as_ptr();
    // SAFETY: The handle's reference on the file (type invariant) is given back here.
    unsafe { bindings::fput(file) };
}

/// Whether a device of `group` is bound to the context (`iommufd_ctx_has_group()`);
/// false for a null context or group.
///
/// # Safety
///
/// `ictx` is null or a context handle the caller holds; `group` is null or a valid group.
#[export]
pub(crate) unsafe extern "C" fn iommufd_ctx_has_group(
    ictx: *mut bindings::iommufd_ctx,
    group: *mut bindings::iommu_group,
) -> bool {
    if ictx.is_null() || group.is_null() {
        return false;
    }
    // SAFETY: The caller holds the handle.
    let ctx = unsafe { ctx_ref(ictx) };
    ctx.objects
        .any::<IDevice>(|idev| idev.group().as_raw() == group)
}

/// Returns in `out_ioas_id` the id of the compatibility IOAS
/// (`iommufd_vfio_compat_ioas_get_id()`).
///
/// # Errors
///
/// `-ENODEV` if there is none.
///
/// # Safety
///
/// `ictx` is a context handle the caller holds; `out_ioas_id` is valid for writes.
#[export]
pub(crate) unsafe extern "C" fn iommufd_vfio_compat_ioas_get_id(
    ictx: *mut bindings::iommufd_ctx,
    out_ioas_id: *mut u32,
) -> c_int {
    // SAFETY: The caller holds the handle.
    let ctx = unsafe { ctx_ref(ictx) };
    to_int(ctx.objects.get_compat::<Ioas>().map(|(id, _)| {
        // SAFETY: The caller passes a pointer valid for writes.
        unsafe { out_ioas_id.write(id) }
    }))
}

/// Makes an IOAS the compatibility IOAS unless there is one
/// (`iommufd_vfio_compat_ioas_create()`). It is an object like those user space makes:
/// `IOMMU_VFIO_IOAS` names it, and it lives until destroyed or the file is closed.
///
/// # Errors
///
/// `-EINVAL` in no-IOMMU mode, `-ENOMEM`.
///
/// # Safety
///
/// `ictx` is a context handle the caller holds.
#[export]
pub(crate) unsafe extern "C" fn iommufd_vfio_compat_ioas_create(
    ictx: *mut bindings::iommufd_ctx,
) -> c_int {
    // SAFETY: The caller holds the handle.
    let ctx = unsafe { ctx_ref(ictx) };
    to_int((|| {
        let reservation = ctx.objects.reserve()?;
        let prepared = reservation.prepare(Ioas::new()?)?;
        ctx.objects.publish_compat(prepared)
    })())
}

/// Enters no-IOMMU mode, in which no compatibility IOAS can be made
/// (`iommufd_vfio_compat_set_no_iommu()`).
///
/// # Errors
///
/// `-EINVAL` if there is a compatibility IOAS.
///
/// # Safety
///
/// `ictx` is a context handle the caller holds.
#[export]
pub(crate) unsafe extern "C" fn iommufd_vfio_compat_set_no_iommu(
    ictx: *mut bindings::iommufd_ctx,
) -> c_int {
    // SAFETY: The caller holds the handle.
    to_int(unsafe { ctx_ref(ictx) }.objects.set_no_iommu())
}
