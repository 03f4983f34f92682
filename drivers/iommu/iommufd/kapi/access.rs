// SPDX-License-Identifier: GPL-2.0

//! `struct iommufd_access *`: a driver's in-kernel access to an IOAS (VFIO's emulated
//! devices pin or copy guest memory through one).
//!
//! # Invariants
//!
//! An access handle is [`Arc::into_raw`] of the [`Access`]: the handle owns that reference
//! from [`iommufd_access_create`] until [`iommufd_access_destroy`] takes it back.

use core::mem::ManuallyDrop;
use kernel::{
    bindings,
    ffi::{c_int, c_uint, c_ulong, c_void},
    mm::pin::page_of,
    prelude::*,
    sync::Arc,
};

use crate::{
    ctx::CtxRef,
    device::access::{Access, AccessOps},
    pagetable::pages::RwFlags,
};

use super::{borrow_handle, ctx_ref, from_handle, into_handle, to_int};

/// `IOMMUFD_ACCESS_RW_WRITE`: copy into the memory, or pin for writing. A caller that is
/// a kernel thread says so with `IOMMUFD_ACCESS_RW_KTHREAD` (it copies through pins).
const RW_WRITE: c_uint = bindings::IOMMUFD_ACCESS_RW_WRITE;

/// The callbacks a C driver gave: its `struct iommufd_access_ops` and its data.
///
/// # Invariants
///
/// `ops` and `data` are valid until the access is destroyed, after which the access no
/// longer calls back (the driver's guarantee to `iommufd_access_create()`).
struct COps {
    ops: *const bindings::iommufd_access_ops,
    data: *mut c_void,
}

// SAFETY: C drivers' callbacks may be called from any thread, as iommufd calls them from
// whichever thread unmaps.
unsafe impl Send for COps {}
// SAFETY: As for `Send`; `&COps` only calls the callback.
unsafe impl Sync for COps {}

impl AccessOps for COps {
    fn unmap(&self, iova: u64, length: u64) {
        // SAFETY: `ops` is valid while the access may call back (type invariant).
        if let Some(unmap) = unsafe { (*self.ops).unmap } {
            // SAFETY: The driver's callback, with its own data, as it asked.
            unsafe { unmap(self.data, iova as c_ulong, length as c_ulong) };
        }
    }
}

/// The access of a handle, borrowed.
///
/// # Safety
///
/// `access` is an access handle the caller holds, and does not destroy while it uses the
/// result.
unsafe fn borrow(access: *mut bindings::iommufd_access) -> ManuallyDrop<Arc<Access>> {
    // SAFETY: By the type invariant the handle was made by `into_handle` from the access's
    // `Arc`; the caller holds it.
    unsafe { borrow_handle(access) }
}

/// Creates an access in the context `ictx` (`iommufd_access_create()`), whose id is
/// written to `id`; `ops->unmap(data, iova, length)` is called when user space unmaps
/// IOVA the access may have pinned, and must unpin it.
///
/// # Errors
///
/// `ERR_PTR(-ENOMEM)`.
///
/// # Safety
///
/// `ictx` is a context handle the caller holds; `ops` (and `data`, for the callback) stay
/// valid until the access is destroyed; `id` is valid for writes.
#[export]
pub(crate) unsafe extern "C" fn iommufd_access_create(
    ictx: *mut bindings::iommufd_ctx,
    ops: *const bindings::iommufd_access_ops,
    data: *mut c_void,
    id: *mut u32,
) -> *mut bindings::iommufd_access {
    // SAFETY: The caller holds the handle.
    let ctx = CtxRef::of(unsafe { ctx_ref(ictx) });
    // SAFETY: The caller passes valid ops.
    let needs_pin = unsafe { (*ops).needs_pin_pages() } != 0;
    let res: Result<Arc<Access>> = (|| {
        let cops: Arc<dyn AccessOps> = Arc::new(COps { ops, data }, GFP_KERNEL)?;
        let access = Access::create(ctx, needs_pin)?;
        access.set_ops(cops);
        Ok(access)
    })();
    match res {
        Ok(access) => {
            // SAFETY: The caller passes a pointer valid for writes.
            unsafe { id.write(access.id()) };
            // INVARIANT: The handle owns this reference until destroy.
            into_handle(access)
        }
        Err(e) => e.to_ptr(),
    }
}

/// Destroys the access (`iommufd_access_destroy()`): detaches it and forgets the
/// driver's callbacks.
///
/// # Safety
///
/// `access` is an access handle of the caller, which it no longer uses.
#[export]
pub(crate) unsafe extern "C" fn iommufd_access_destroy(access: *mut bindings::iommufd_access) {
    // SAFETY: By the type invariant the handle owns this reference, made by `into_handle`;
    // the caller gives it back.
    let access: Arc<Access> = unsafe { from_handle(access) };
    Access::destroy(&access);
}

/// Attaches the access to the IOAS `ioas_id` (`iommufd_access_attach()`).
///
/// # Errors
///
/// `-ENOENT` for no such IOAS, `-EINVAL` if attached, `-EADDRINUSE` if the driver pins
/// and a mapping is not page aligned, `-ENOMEM`.
///
/// # Safety
///
/// `access` is an access handle the caller holds.
#[export]
pub(crate) unsafe extern "C" fn iommufd_access_attach(
    access: *mut bindings::iommufd_access,
    ioas_id: u32,
) -> c_int {
    // SAFETY: The caller holds the handle.
    let access = unsafe { borrow(access) };
    to_int(Access::attach(&access, ioas_id))
}

/// Moves the access to the IOAS `ioas_id` (`iommufd_access_replace()`); the driver's
/// unmap callback unpins everything from the old one first.
///
/// # Errors
///
/// `-ENOENT` if not attached or for no such IOAS, and as [`iommufd_access_attach`].
///
/// # Safety
///
/// `access` is an access handle the caller holds.
#[export]
pub(crate) unsafe extern "C" fn iommufd_access_replace(
    access: *mut bindings::iommufd_access,
    ioas_id: u32,
) -> c_int {
    // SAFETY: The caller holds the handle.
    let access = unsafe { borrow(access) };
    to_int(Access::replace(&access, ioas_id))
}

/// Detaches the access from its IOAS (`iommufd_access_detach()`).
///
/// # Safety
///
/// `access` is an access handle the caller holds.
#[export]
pub(crate) unsafe extern "C" fn iommufd_access_detach(access: *mut bindings::iommufd_access) {
    // SAFETY: The caller holds the handle.
    let access = unsafe { borrow(access) };
    Access::detach(&access);
}

/// Pins the pages under `[iova, iova + length)` and stores them in `out_pages`
/// (`iommufd_access_pin_pages()`); `IOMMUFD_ACCESS_RW_WRITE` in `flags` for pages the
/// driver writes.
///
/// # Errors
///
/// `-EINVAL` for a zero length, a range not page aligned or a driver that does not pin;
/// `-EOVERFLOW`; `-ENOENT` if detached or not all mapped; `-EPERM` for writing to memory
/// mapped read-only; `-ENOMEM`, `-EFAULT`.
///
/// # Safety
///
/// `access` is an access handle the caller holds; `out_pages` has room for the pages of
/// the range.
#[export]
pub(crate) unsafe extern "C" fn iommufd_access_pin_pages(
    access: *mut bindings::iommufd_access,
    iova: c_ulong,
    length: c_ulong,
    out_pages: *mut *mut bindings::page,
    flags: c_uint,
) -> c_int {
    // SAFETY: The caller holds the handle.
    let access = unsafe { borrow(access) };
    let mut i = 0usize;
    to_int(
        access.pin_pages(iova as u64, length as u64, flags & RW_WRITE != 0, |pfn| {
            // SAFETY: The caller's array has room for a page per page of the range, and
            // this is called once per page, in order. The page is pinned.
            unsafe { out_pages.add(i).write(page_of(pfn)) };
            i += 1;
        }),
    )
}

/// Unpins a range pinned with [`iommufd_access_pin_pages`]
/// (`iommufd_access_unpin_pages()`).
///
/// # Safety
///
/// `access` is an access handle the caller holds.
#[export]
pub(crate) unsafe extern "C" fn iommufd_access_unpin_pages(
    access: *mut bindings::iommufd_access,
    iova: c_ulong,
    length: c_ulong,
) {
    // SAFETY: The caller holds the handle.
    unsafe { borrow(access) }.unpin_pages(iova as u64, length as u64);
}

/// Copies `len` bytes between `data` and the memory at `iova` (`iommufd_access_rw()`):
/// into the memory with `IOMMUFD_ACCESS_RW_WRITE`.
///
/// # Errors
///
/// `-EINVAL` for a zero length, `-EOVERFLOW`, `-ENOENT` if detached or not all mapped,
/// `-EPERM` for writing to memory mapped read-only, `-EFAULT`, `-ENOMEM`.
///
/// # Safety
///
/// `access` is an access handle the caller holds; `data` is valid for reads and writes
/// of `len` bytes.
#[export]
pub(crate) unsafe extern "C" fn iommufd_access_rw(
    access: *mut bindings::iommufd_access,
    iova: c_ulong,
    data: *mut c_void,
    len: usize,
    flags: c_uint,
) -> c_int {
    if len == 0 || data.is_null() {
        return EINVAL.to_errno();
    }
    // SAFETY: The caller passes a buffer valid for `len` bytes, for the call.
    let buf = unsafe { core::slice::from_raw_parts_mut(data.cast::<u8>(), len) };
    let flags = RwFlags {
        write: flags & RW_WRITE != 0,
        kthread: flags & bindings::IOMMUFD_ACCESS_RW_KTHREAD != 0,
        slow_path: false,
    };
    // SAFETY: The caller holds the handle.
    to_int(unsafe { borrow(access) }.rw(iova as u64, buf, flags))
}
