// SPDX-License-Identifier: GPL-2.0

//! Importing dma-bufs with a dynamic attachment.
//!
//! A [`DmaBuf`] is a reference to a buffer another driver exported (`dma_buf_get()` of a
//! descriptor). A [`DynamicAttachment`] attaches a device to it as a *dynamic* importer:
//! the exporter may move or revoke the buffer at any time, and tells the importer by
//! calling its [`Importer::invalidate_mappings`] with the buffer's reservation lock held.
//! Pinning the attachment ([`LockedAttachment::pin`]) asks the exporter to keep the buffer
//! where it is; it may still revoke it (a device reset, a disabled BAR).
//!
//! Locking: the reservation lock (`dma_resv`) is a ww-mutex, taken here alone (without an
//! acquire context) by [`DmaBuf::lock`] and [`DynamicAttachment::lock`], whose guards
//! release it. The exporter calls the importer with it held, so an importer's own locks
//! nest inside it.
//!
//! C header: [`include/linux/dma-buf.h`](srctree/include/linux/dma-buf.h)

use crate::{
    bindings,
    device::Device,
    error::{from_err_ptr, to_result, Result},
    sync::Arc,
};
use core::{
    marker::PhantomData,
    ptr::NonNull,
    sync::atomic::{AtomicBool, Ordering},
};

/// A reference to a dma-buf.
///
/// # Invariants
///
/// `ptr` is a dma-buf on which this object owns one reference (of its file), put when it is
/// dropped.
pub struct DmaBuf {
    ptr: NonNull<bindings::dma_buf>,
}

// SAFETY: A dma-buf reference may be used and put from any thread.
unsafe impl Send for DmaBuf {}
// SAFETY: What `&DmaBuf` allows (reading the size, taking the reservation lock) is
// thread-safe.
unsafe impl Sync for DmaBuf {}

impl DmaBuf {
    /// The dma-buf of the current process's descriptor `fd`.
    ///
    /// # Errors
    ///
    /// `EBADF` if `fd` is not open; `EINVAL` if it is not a dma-buf.
    pub fn get(fd: i32) -> Result<Self> {
        // SAFETY: Any descriptor may be passed; the function checks it.
        let ptr = from_err_ptr(unsafe { bindings::dma_buf_get(fd) })?;
        let ptr = NonNull::new(ptr).ok_or(crate::error::code::EINVAL)?;
        // INVARIANT: `dma_buf_get` took the reference we now own.
        Ok(Self { ptr })
    }

    /// The buffer's size in bytes.
    pub fn size(&self) -> usize {
        // SAFETY: The buffer is valid while we hold a reference; its size never changes.
        unsafe { (*self.ptr.as_ptr()).size }
    }

    /// The C buffer, for an exporter's own functions (its `ops` and `priv`).
    pub fn as_raw(&self) -> *mut bindings::dma_buf {
        self.ptr.as_ptr()
    }

    /// Takes the buffer's reservation lock, released when the guard is dropped.
    ///
    /// # Errors
    ///
    /// As `dma_resv_lock()` fails; it does not without an acquire context, but the
    /// function says so and this passes it on.
    pub fn lock(&self) -> Result<ResvGuard<'_>> {
        // SAFETY: The buffer is valid, so is its reservation object; a null context takes
        // the lock on its own.
        to_result(unsafe {
            bindings::dma_resv_lock((*self.ptr.as_ptr()).resv, core::ptr::null_mut())
        })?;
        // INVARIANT: Taken above.
        Ok(ResvGuard { buf: self })
    }
}

impl Drop for DmaBuf {
    fn drop(&mut self) {
        // SAFETY: We own one reference (type invariant), given up here.
        unsafe { bindings::dma_buf_put(self.ptr.as_ptr()) };
    }
}

/// The reservation lock of a dma-buf, held.
///
/// # Invariants
///
/// The lock of `buf`'s reservation object is held by this guard, released in `drop`.
pub struct ResvGuard<'a> {
    buf: &'a DmaBuf,
}

impl ResvGuard<'_> {
    /// The buffer whose lock is held.
    pub fn buf(&self) -> &DmaBuf {
        self.buf
    }

    /// Tells every dynamic importer of the buffer that it moved or was revoked
    /// (`dma_buf_invalidate_mappings()`), for the exporter: each stops using what it got
    /// for the buffer before this returns.
    pub fn invalidate_mappings(&self) {
        // SAFETY: The buffer is valid and its reservation lock held (type invariant).
        unsafe { bindings::dma_buf_invalidate_mappings(self.buf.as_raw()) };
    }
}

impl Drop for ResvGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: The lock is held (type invariant).
        unsafe { bindings::dma_resv_unlock((*self.buf.as_raw()).resv) };
    }
}

/// A dynamic importer: what an exporter calls when it moves or revokes a buffer.
pub trait Importer: Send + Sync + 'static {
    /// Whether the importer accepts peer-to-peer memory (a device's BAR).
    const ALLOW_PEER2PEER: bool;

    /// The exporter moved or revoked the buffer: the importer must stop every use of the
    /// addresses it got for it before returning. Called with the buffer's reservation lock
    /// held, for an attachment that is not detached yet.
    fn invalidate_mappings(&self);
}

/// The importer operations of `T`.
struct OpsOf<T>(PhantomData<T>);

impl<T: Importer> OpsOf<T> {
    const OPS: bindings::dma_buf_attach_ops = bindings::dma_buf_attach_ops {
        allow_peer2peer: T::ALLOW_PEER2PEER,
        invalidate_mappings: Some(Self::invalidate_mappings),
    };

    /// # Safety
    ///
    /// Called by the dma-buf core, with the reservation lock held, for an attachment made
    /// by [`DynamicAttachment::new`] with `T` that is not detached yet.
    unsafe extern "C" fn invalidate_mappings(attach: *mut bindings::dma_buf_attachment) {
        // SAFETY: `importer_priv` is the `T` of the attachment (its type invariant), which
        // the attachment keeps alive until it detaches, and no callback comes after that.
        let importer = unsafe { &*(*attach).importer_priv.cast::<T>() };
        importer.invalidate_mappings();
    }
}

/// A device's dynamic attachment to a dma-buf, with the importer `T`.
///
/// Dropping it unpins it (if pinned) and detaches it, then puts the buffer.
///
/// # Invariants
///
/// `attach` is a dynamic attachment of `buf` made with `OpsOf::<T>::OPS` whose
/// `importer_priv` is the `T` of `importer`, detached in `drop`. `pinned` says whether
/// it is pinned; it changes only under the reservation lock.
pub struct DynamicAttachment<T: Importer> {
    attach: NonNull<bindings::dma_buf_attachment>,
    pinned: AtomicBool,
    importer: Arc<T>,
    buf: DmaBuf,
}

// SAFETY: The attachment may be used and detached from any thread; `T` is `Send + Sync`.
unsafe impl<T: Importer> Send for DynamicAttachment<T> {}
// SAFETY: What `&DynamicAttachment` allows is done under the reservation lock, or reads.
unsafe impl<T: Importer> Sync for DynamicAttachment<T> {}

impl<T: Importer> DynamicAttachment<T> {
    /// Attaches `dev` to `buf` as the dynamic importer `importer`.
    ///
    /// # Errors
    ///
    /// As `dma_buf_dynamic_attach()` fails (the exporter refuses the device, `ENOMEM`).
    pub fn new(buf: DmaBuf, dev: &Device, importer: Arc<T>) -> Result<Self> {
        // SAFETY: The buffer and the device are valid; the importer stays at this address
        // (in its `Arc`, which the attachment keeps) until the detach in `drop`; the ops
        // are static.
        let attach = from_err_ptr(unsafe {
            bindings::dma_buf_dynamic_attach(
                buf.as_raw(),
                dev.as_raw(),
                &OpsOf::<T>::OPS,
                Arc::as_ptr(&importer).cast_mut().cast(),
            )
        })?;
        let attach = NonNull::new(attach).ok_or(crate::error::code::ENOMEM)?;
        // INVARIANT: Attached above with `importer` as `importer_priv`.
        Ok(Self {
            attach,
            pinned: AtomicBool::new(false),
            importer,
            buf,
        })
    }

    /// The buffer.
    pub fn buf(&self) -> &DmaBuf {
        &self.buf
    }

    /// The importer.
    pub fn importer(&self) -> &Arc<T> {
        &self.importer
    }

    /// Takes the buffer's reservation lock, for what needs it held.
    ///
    /// # Errors
    ///
    /// As [`DmaBuf::lock`].
    pub fn lock(&self) -> Result<LockedAttachment<'_, T>> {
        Ok(LockedAttachment {
            attachment: self,
            _resv: self.buf.lock()?,
        })
    }
}

impl<T: Importer> Drop for DynamicAttachment<T> {
    fn drop(&mut self) {
        if self.pinned.load(Ordering::Relaxed) {
            if let Ok(resv) = self.buf.lock() {
                // SAFETY: The attachment is pinned (type invariant) and the lock held.
                unsafe { bindings::dma_buf_unpin(self.attach.as_ptr()) };
                drop(resv);
            }
        }
        // SAFETY: The attachment is ours and not detached yet (type invariant); afterwards
        // the exporter calls no importer operation for it. The fields (the importer and our
        // reference on the buffer) are released after this.
        unsafe { bindings::dma_buf_detach(self.buf.as_raw(), self.attach.as_ptr()) };
    }
}

/// A dynamic attachment with its buffer's reservation lock held.
pub struct LockedAttachment<'a, T: Importer> {
    attachment: &'a DynamicAttachment<T>,
    _resv: ResvGuard<'a>,
}

impl<T: Importer> LockedAttachment<'_, T> {
    /// The attachment.
    pub fn attachment(&self) -> &DynamicAttachment<T> {
        self.attachment
    }

    /// Pins the attachment, if it is not already: the exporter keeps the buffer where it
    /// is until the attachment goes (it may still revoke it).
    ///
    /// # Errors
    ///
    /// As `dma_buf_pin()` fails.
    pub fn pin(&self) -> Result {
        let a = self.attachment;
        if a.pinned.load(Ordering::Relaxed) {
            return Ok(());
        }
        // SAFETY: The attachment is valid and its buffer's reservation lock held.
        to_result(unsafe { bindings::dma_buf_pin(a.attach.as_ptr()) })?;
        // INVARIANT: Pinned, under the lock.
        a.pinned.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Whether the attachment is pinned.
    pub fn is_pinned(&self) -> bool {
        self.attachment.pinned.load(Ordering::Relaxed)
    }

    /// The C attachment, for an exporter's functions that take it with the reservation
    /// lock held (vfio-pci's `vfio_pci_dma_buf_iommufd_map()`).
    pub fn as_raw(&self) -> *mut bindings::dma_buf_attachment {
        self.attachment.attach.as_ptr()
    }
}

#[macros::kunit_tests(rust_kernel_dma_buf)]
mod tests {
    use super::*;
    use crate::error::code::EBADF;

    #[test]
    fn get_refuses_a_descriptor_that_is_not_open() {
        assert_eq!(DmaBuf::get(-1).err(), Some(EBADF));
        assert_eq!(DmaBuf::get(i32::MAX).err(), Some(EBADF));
    }
}
