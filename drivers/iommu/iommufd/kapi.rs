// SPDX-License-Identifier: GPL-2.0

//! The in-kernel API: what VFIO (and any other driver that hands devices to user space)
//! calls, under the names, C signatures and symbol namespaces of `include/linux/iommufd.h`.
//!
//! The functions are `extern "C"` and unmangled; `exports.c` exports them under the
//! namespaces `IOMMUFD` and `IOMMUFD_VFIO`, so unmodified `vfio.ko` links against this
//! module. Each file holds one of the C handles and the functions that take it:
//!
//! - [`ctx`]: `struct iommufd_ctx *` (an open `/dev/iommu`) and VFIO's compatibility IOAS;
//! - [`device`]: `struct iommufd_device *` (a bound device);
//! - [`access`]: `struct iommufd_access *` (an in-kernel access to an IOAS);
//! - [`driver`]: the structures IOMMU drivers embed, through the built-in driver core;
//! - `vfio_pci`: what iommufd calls of vfio-pci (its dma-bufs' physical ranges).
//!
//! The handles are opaque to C: each is a pointer to the Rust object, and who holds which
//! reference is spelled out where the handle is defined. Errors cross as negative errnos
//! or `ERR_PTR`s, as in C.
//!
//! This file also keeps what the API needs of the module as a whole: which file
//! operations are those of a context ([`ctx_of_file`]), and the module parameter
//! `allow_unsafe_interrupts`, which `exports.c` declares.

use core::mem::ManuallyDrop;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::{
    bindings,
    device::Device,
    fs::LocalFile,
    miscdevice::MiscDeviceRegistration,
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
        Arc,
    },
};

use crate::ctx::IommufdCtx;

pub(crate) mod access;
pub(crate) mod ctx;
pub(crate) mod device;
pub(crate) mod driver;
#[cfg(CONFIG_VFIO_PCI_DMABUF)]
pub(crate) mod vfio_pci;

/// The file operations of `/dev/iommu` ([`CTX_FOPS`]`[0]`) and of `/dev/vfio/vfio`
/// (`[1]`, with `CONFIG_IOMMUFD_VFIO_CONTAINER`), as addresses; 0 when not registered.
static CTX_FOPS: [Atomic<usize>; 2] = [Atomic::new(0), Atomic::new(0)];

/// Which of the module's device nodes a registration is.
#[derive(Copy, Clone)]
pub(crate) enum Node {
    /// `/dev/iommu`.
    Iommu = 0,
    /// `/dev/vfio/vfio`, VFIO's container, emulated.
    VfioContainer = 1,
}

/// Records that files with the file operations of `misc` are contexts, opened through
/// `node`. Called once the device is registered. Nothing needs forgetting: the devices
/// go only when the module does, after every file of theirs was closed (each holds the
/// module) and every module using the API was unloaded.
pub(crate) fn register_node(node: Node, misc: &MiscDeviceRegistration<IommufdCtx>) {
    if let Node::Iommu = node {
        IOMMU_DEV.store(crate::kapi::raw_device(misc.device()), Ordering::Relaxed);
    }
    CTX_FOPS[node as usize].store(misc.fops() as usize, Relaxed);
}

/// The device of `/dev/iommu`, once registered (see [`register_node`]).
static IOMMU_DEV: AtomicPtr<bindings::device> = AtomicPtr::new(core::ptr::null_mut());

/// The device of `/dev/iommu`: what every context imports dma-bufs as, whichever node it
/// was opened through (C's `iommufd_global_device()`).
pub(crate) fn iommu_device() -> Option<ARef<Device>> {
    let dev = IOMMU_DEV.load(Ordering::Relaxed);
    // SAFETY: A non-null pointer is the device of the registered `/dev/iommu`, which stays
    // registered while any context exists (the module's devices go only at unload, after
    // every file was closed); `get_device` takes a reference of our own.
    (!dev.is_null()).then(|| unsafe { Device::get_device(dev) })
}

/// Whether `misc` is the emulated VFIO container, whose files charge pinned pages to the
/// mm as VFIO does.
pub(crate) fn is_vfio_container(misc: &MiscDeviceRegistration<IommufdCtx>) -> bool {
    let fops = CTX_FOPS[Node::VfioContainer as usize].load(Relaxed);
    fops != 0 && misc.fops() as usize == fops
}

/// The context of `file`, if it is an open `/dev/iommu` or `/dev/vfio/vfio` (C compares
/// `f_op` with `iommufd_fops`).
pub(crate) fn ctx_of_file(file: &LocalFile) -> Option<&IommufdCtx> {
    // SAFETY: `file` is a valid file; its `f_op` is set before it is visible.
    let fops = unsafe { (*file.as_ptr()).f_op } as usize;
    if fops == 0 || !CTX_FOPS.iter().any(|f| f.load(Relaxed) == fops) {
        return None;
    }
    // SAFETY: A file opened through one of the module's misc devices has, as private data,
    // the `IommufdCtx` its `open()` made (`MiscDevice::Ptr` is `Pin<KBox<IommufdCtx>>`),
    // which lives until the file is released, so at least as long as the borrow of `file`.
    Some(unsafe { &*(*file.as_ptr()).private_data.cast::<IommufdCtx>() })
}

extern "C" {
    /// The module parameter `allow_unsafe_interrupts` (`exports.c`): bind devices even
    /// where the platform cannot isolate their MSIs.
    static iommufd_rs_allow_unsafe_interrupts: bool;
}

/// Whether the module parameter `allow_unsafe_interrupts` is set (writable at run time
/// through sysfs, as in C).
pub(crate) fn allow_unsafe_interrupts() -> bool {
    // SAFETY: The parameter is a `bool` defined in `exports.c`, which lives as long as the
    // module; sysfs writes it whole, so a volatile read sees either value.
    unsafe { core::ptr::read_volatile(core::ptr::addr_of!(iommufd_rs_allow_unsafe_interrupts)) }
}

/// Converts a result to what a C function returning `int` returns: 0 or a negative errno.
fn to_int(r: kernel::error::Result) -> kernel::ffi::c_int {
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// A context handle of the C API as a Rust reference.
///
/// # Safety
///
/// `ictx` is a handle this module gave out ([`ctx::iommufd_ctx_from_file`],
/// [`ctx::iommufd_ctx_from_fd`], [`device::iommufd_device_to_ictx`]) that the caller
/// still holds (a reference, or a bound device of the context), for `'a`.
unsafe fn ctx_ref<'a>(ictx: *mut bindings::iommufd_ctx) -> &'a IommufdCtx {
    // SAFETY: Handles are pointers to contexts, valid while held (the caller's guarantee).
    unsafe { &*ictx.cast::<IommufdCtx>() }
}

/// A C handle (`struct iommufd_device *`, `struct iommufd_access *`) that owns the
/// reference `obj`: [`Arc::into_raw`], given back with [`from_handle`].
fn into_handle<T, H>(obj: Arc<T>) -> *mut H {
    Arc::into_raw(obj).cast_mut().cast()
}

/// Takes back the reference a handle made by [`into_handle`] owns.
///
/// # Safety
///
/// `handle` was made by [`into_handle`] from an `Arc<T>`, and is not used afterwards.
unsafe fn from_handle<T, H>(handle: *mut H) -> Arc<T> {
    // SAFETY: By the caller's guarantee `handle` is `Arc::into_raw` of an `Arc<T>` whose
    // reference is given back here.
    unsafe { Arc::from_raw(handle.cast::<T>().cast_const()) }
}

/// The object of a handle made by [`into_handle`], borrowed.
///
/// # Safety
///
/// `handle` was made by [`into_handle`] from an `Arc<T>`; the caller holds it, and does not
/// give it back while it uses the result.
unsafe fn borrow_handle<T, H>(handle: *mut H) -> ManuallyDrop<Arc<T>> {
    // SAFETY: The `Arc` made here is never dropped, so the handle keeps its reference,
    // which the caller's guarantee keeps alive.
    ManuallyDrop::new(unsafe { from_handle(handle) })
}

/// The C device behind `dev`, for the C calls of the module's edge that take one (the
/// kernel crate keeps `Device::as_raw` to itself).
pub(crate) fn raw_device(dev: &Device) -> *mut bindings::device {
    let ptr: *const Device = dev;
    // `Device` wraps `struct device` transparently.
    ptr.cast_mut().cast::<bindings::device>()
}
