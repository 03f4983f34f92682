// SPDX-License-Identifier: GPL-2.0

//! dma-buf memory behind a mapping (`IOMMU_IOAS_MAP_FILE` of a dma-buf descriptor).
//!
//! A dma-buf export (a device's BAR, as vfio-pci exports it; the test command's mock
//! buffer) is imported with a *dynamic* attachment: the exporter may revoke it at any
//! time (the device is reset, its BAR disabled), calling the importer's
//! `invalidate_mappings`. The exporter gives a physical range (a `phys_vec`); nothing is
//! pinned or charged. Every domain mapping of the range is tracked here, so that a
//! revoke unmaps them all at once; afterwards the mapping stays, maps nothing into new
//! domains, and can only be unmapped. A new import of a revoked buffer fails (`ENODEV`)
//! until the exporter restores it.
//!
//! The wrappers of the C dma-buf API here are the module's edge; they belong in the
//! kernel crate once a second user needs them.
//!
//! # Lifetime
//!
//! An import holds a reference on the dma-buf and its attachment (pinned, as a dynamic
//! importer without move support must) from [`DmaBufImport::new`] until dropped, which
//! unpins, detaches and puts the buffer. It is attached on behalf of iommufd's misc device.
//! Its memory is an [`Arc`] that the attachment points to (`importer_priv`), valid until
//! the detach.
//!
//! # Locking
//!
//! The exporter's reservation lock (`dma_resv`) is taken before `DmaBufImport::state`
//! (the exporter calls `invalidate_mappings` under it); `IoPageTable::state` is taken
//! before `DmaBufImport::state` (filling domains), and never under it.

use core::{
    ptr::NonNull,
    sync::atomic::{AtomicBool, AtomicPtr, Ordering},
};
use kernel::{
    bindings,
    device::Device,
    iommu::domain::{Domain, Prot},
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

/// A domain mapping of part of the buffer.
struct Tracked {
    /// The domain (valid while tracked: whoever maps untracks before the domain goes).
    domain: *const Domain,
    iova: usize,
    len: usize,
}

/// What [`DmaBufImport::state`] protects.
struct DmaState {
    /// The physical address of the buffer's first byte.
    paddr: u64,
    /// Its length; 0 once revoked.
    len: usize,
    /// The domain mappings of the buffer.
    tracked: KVec<Tracked>,
}

/// An imported dma-buf.
///
/// # Invariants
///
/// `dmabuf` holds a reference this object owns. `attach` is null or a dynamic attachment
/// of it whose `importer_priv` is this object, detached in `drop`; `pinned` says whether
/// the attachment is pinned.
#[pin_data(PinnedDrop)]
pub(crate) struct DmaBufImport {
    dmabuf: NonNull<bindings::dma_buf>,
    attach: AtomicPtr<bindings::dma_buf_attachment>,
    pinned: AtomicBool,
    #[pin]
    state: Mutex<DmaState>,
}

// SAFETY: The buffer and attachment may be used and released from any thread; the state
// is under its mutex and the tracked domains are `Sync`.
unsafe impl Send for DmaBufImport {}
// SAFETY: As above.
unsafe impl Sync for DmaBufImport {}

/// The importer operations: revocation unmaps every domain mapping.
static IMPORTER_OPS: bindings::dma_buf_attach_ops = bindings::dma_buf_attach_ops {
    allow_peer2peer: true,
    invalidate_mappings: Some(invalidate_mappings),
};

/// The exporter revokes the buffer (`dma_buf_attach_ops::invalidate_mappings`).
///
/// # Safety
///
/// Called by the dma-buf core, with the reservation lock held, for an attachment of
/// [`DmaBufImport::new`] that is not detached yet.
unsafe extern "C" fn invalidate_mappings(attach: *mut bindings::dma_buf_attachment) {
    // SAFETY: `importer_priv` is the import (type invariant), alive until the detach.
    let this = unsafe { &*(*attach).importer_priv.cast::<DmaBufImport>() };
    let mut state = this.state.lock();
    if state.len == 0 {
        return;
    }
    for t in state.tracked.drain_all() {
        // SAFETY: A tracked domain is alive while tracked.
        let done = unsafe { (*t.domain).unmap(t.iova, t.len) };
        kernel::warn_on!(done != t.len);
    }
    state.len = 0;
}

/// How an exporter of the module itself gives the physical range of one of its buffers for
/// `attach`: `None` for another exporter's buffer, `ENODEV` for a revoked one.
#[cfg(CONFIG_IOMMUFD_TEST)]
pub(crate) type ExporterPhys =
    fn(attach: *mut bindings::dma_buf_attachment) -> Option<Result<(u64, usize)>>;

/// The test driver's exporter of mock dma-bufs (`IOMMU_TEST_OP_DMABUF_GET`), which it
/// registers when the module loads ([`register_test_exporter`]): the IO page table layer
/// knows no test code.
#[cfg(CONFIG_IOMMUFD_TEST)]
static TEST_EXPORTER: kernel::sync::SetOnce<ExporterPhys> = kernel::sync::SetOnce::new();

/// Registers the test driver's exporter, once, before any of its buffers exists.
#[cfg(CONFIG_IOMMUFD_TEST)]
pub(crate) fn register_test_exporter(phys: ExporterPhys) {
    kernel::warn_on!(!TEST_EXPORTER.populate(phys));
}

/// The exporter's physical range for `attach`, as its `iommufd` hook gives it (C's
/// `vfio_pci_dma_buf_iommufd_map` and the test command's mock). Called with the buffer's
/// reservation lock held and the attachment pinned.
///
/// # Errors
///
/// `EOPNOTSUPP` for an exporter without such a range; `ENODEV` if it is revoked.
fn exporter_phys(attach: *mut bindings::dma_buf_attachment) -> Result<(u64, usize)> {
    #[cfg(CONFIG_IOMMUFD_TEST)]
    if let Some(r) = TEST_EXPORTER.as_ref().and_then(|phys| phys(attach)) {
        return r;
    }
    if !cfg!(CONFIG_VFIO_PCI_DMABUF) {
        return Err(EOPNOTSUPP);
    }
    vfio_pci_phys(attach)
}

/// vfio-pci's physical range of one of its dma-bufs (`vfio_pci_dma_buf_iommufd_map()`,
/// which vfio-pci exports to a module named `iommufd` only; `EOPNOTSUPP` for another
/// exporter's buffer).
///
/// vfio-pci links against iommufd, so iommufd cannot link against vfio-pci: the function
/// is looked up by name while used (C's `symbol_get()`), which holds vfio-pci meanwhile.
/// Exercised end to end by `iommufd_rs_vfio`'s `p2p_dmabuf` (one edu's DMA into another's
/// BAR).
///
/// # Errors
///
/// `EOPNOTSUPP` if vfio-pci is not loaded or the buffer is not one of its; `ENODEV` if it
/// is revoked.
fn vfio_pci_phys(attach: *mut bindings::dma_buf_attachment) -> Result<(u64, usize)> {
    /// `vfio_pci_dma_buf_iommufd_map()` (include/linux/vfio_pci_core.h).
    type MapFn = unsafe extern "C" fn(
        *mut bindings::dma_buf_attachment,
        *mut bindings::phys_vec,
    ) -> kernel::ffi::c_int;
    const NAME: &CStr = c"vfio_pci_dma_buf_iommufd_map";
    // SAFETY: Looks the symbol up by name; takes a reference on its module if found.
    let sym = unsafe { bindings::__symbol_get(NAME.as_char_ptr()) };
    if sym.is_null() {
        return Err(EOPNOTSUPP);
    }
    // SAFETY: The symbol is vfio-pci's function of that name, whose signature is `MapFn`.
    let map = unsafe { core::mem::transmute::<*mut core::ffi::c_void, MapFn>(sym) };
    let mut phys = bindings::phys_vec { paddr: 0, len: 0 };
    // SAFETY: `attach` is a pinned attachment whose reservation lock the caller holds, as
    // the function requires; `phys` is valid for its write.
    let rc = unsafe { map(attach, &mut phys) };
    // SAFETY: Drops the module reference `__symbol_get` took; `map` is not used again.
    unsafe { bindings::__symbol_put(NAME.as_char_ptr()) };
    kernel::error::to_result(rc)?;
    Ok((phys.paddr, phys.len))
}

impl DmaBufImport {
    /// Imports the dma-buf of descriptor `fd`, if it is one, for `[start, start + length)`:
    /// `None` if `fd` is not a dma-buf.
    ///
    /// # Errors
    ///
    /// `EINVAL` if the range does not fit in the buffer; `EOPNOTSUPP` for an exporter that
    /// gives no physical range; `ENODEV` if it is revoked; as attaching or pinning fails;
    /// `ENOMEM`.
    pub(crate) fn new(
        fd: i32,
        dev: &Device,
        start: u64,
        length: usize,
    ) -> Option<Result<Arc<Self>>> {
        // SAFETY: Any descriptor may be passed; a non-dma-buf gives an error pointer.
        let dmabuf = unsafe { bindings::dma_buf_get(fd) };
        let dmabuf = NonNull::new(kernel::error::from_err_ptr(dmabuf).ok()?)?;
        Some(Self::import(dmabuf, dev, start, length))
    }

    fn import(
        dmabuf: NonNull<bindings::dma_buf>,
        dev: &Device,
        start: u64,
        length: usize,
    ) -> Result<Arc<Self>> {
        // SAFETY: The buffer is valid while we hold our reference.
        let size = unsafe { (*dmabuf.as_ptr()).size } as u64;
        let fits = size > start + length as u64 - 1;
        // INVARIANT: The reference from `dma_buf_get` goes to the import, which puts it.
        let this = Arc::pin_init(
            pin_init!(Self {
                dmabuf,
                attach: AtomicPtr::new(core::ptr::null_mut()),
                pinned: AtomicBool::new(false),
                state <- new_mutex!(DmaState {
                    paddr: 0,
                    len: 0,
                    tracked: KVec::new(),
                }),
            }),
            GFP_KERNEL_ACCOUNT,
        );
        let this = match this {
            Ok(t) => t,
            Err(e) => {
                // SAFETY: Not handed over: we still own the reference.
                unsafe { bindings::dma_buf_put(dmabuf.as_ptr()) };
                return Err(e);
            }
        };
        if !fits {
            return Err(EINVAL);
        }
        // SAFETY: The buffer and the device are valid; the import stays at this address
        // (in its `Arc`) until it detaches in its drop.
        let attach = unsafe {
            bindings::dma_buf_dynamic_attach(
                dmabuf.as_ptr(),
                crate::kapi::raw_device(dev),
                &IMPORTER_OPS,
                Arc::as_ptr(&this).cast_mut().cast(),
            )
        };
        let attach = kernel::error::from_err_ptr(attach)?;
        this.attach.store(attach, Ordering::Relaxed);
        this.pin_and_map()?;
        Ok(this)
    }

    /// Pins the attachment and reads the exporter's range, under the reservation lock.
    fn pin_and_map(&self) -> Result {
        let resv = self.resv();
        let attach = self.attach.load(Ordering::Relaxed);
        // SAFETY: The buffer is valid; a null context takes the lock alone.
        kernel::error::to_result(unsafe { bindings::dma_resv_lock(resv, core::ptr::null_mut()) })?;
        // SAFETY: The attachment is valid and the reservation lock held.
        let r = kernel::error::to_result(unsafe { bindings::dma_buf_pin(attach) }).and_then(|()| {
            self.pinned.store(true, Ordering::Relaxed);
            exporter_phys(attach)
        });
        if let Ok((paddr, len)) = r {
            let mut state = self.state.lock();
            state.paddr = paddr;
            state.len = len;
        }
        // SAFETY: Taken above.
        unsafe { bindings::dma_resv_unlock(resv) };
        r.map(|_| ())
    }

    fn resv(&self) -> *mut bindings::dma_resv {
        // SAFETY: The buffer is valid while we hold our reference.
        unsafe { (*self.dmabuf.as_ptr()).resv }
    }

    /// Maps `len` bytes from byte `offset` of the buffer at `iova` of `domain`, and tracks
    /// the mapping; maps nothing if the buffer is revoked.
    ///
    /// # Errors
    ///
    /// As `iommu_map` fails; nothing stays mapped then.
    ///
    /// # Safety
    ///
    /// `domain` stays alive until the mapping is untracked with [`DmaBufImport::unmap`].
    pub(crate) unsafe fn map(
        &self,
        domain: &Domain,
        iova: usize,
        offset: u64,
        len: usize,
        prot: Prot,
    ) -> Result {
        let mut state = self.state.lock();
        if state.len == 0 {
            return Ok(());
        }
        state.tracked.reserve(1, GFP_KERNEL_ACCOUNT)?;
        domain.map(iova, state.paddr + offset, len, prot, GFP_KERNEL_ACCOUNT)?;
        // Room was reserved above.
        let _ = state
            .tracked
            .push_within_capacity(Tracked { domain, iova, len });
        Ok(())
    }

    /// Unmaps and untracks the mapping at `iova` of `domain`, unless a revoke did already.
    pub(crate) fn unmap(&self, domain: &Domain, iova: usize) {
        let mut state = self.state.lock();
        let Some(i) = state
            .tracked
            .iter()
            .position(|t| core::ptr::eq(t.domain, domain) && t.iova == iova)
        else {
            return;
        };
        if let Ok(t) = state.tracked.remove(i) {
            let done = domain.unmap(t.iova, t.len);
            kernel::warn_on!(done != t.len);
        }
    }
}

#[pinned_drop]
impl PinnedDrop for DmaBufImport {
    fn drop(self: Pin<&mut Self>) {
        kernel::warn_on!(!self.state.lock().tracked.is_empty());
        let resv = self.resv();
        let attach = self.attach.load(Ordering::Relaxed);
        // SAFETY: By the type invariant: a pinned attachment is unpinned under the
        // reservation lock, then detached (after which the exporter never calls us), then
        // our reference on the buffer is put.
        unsafe {
            if self.pinned.load(Ordering::Relaxed)
                && bindings::dma_resv_lock(resv, core::ptr::null_mut()) == 0
            {
                bindings::dma_buf_unpin(attach);
                bindings::dma_resv_unlock(resv);
            }
            if !attach.is_null() {
                bindings::dma_buf_detach(self.dmabuf.as_ptr(), attach);
            }
            bindings::dma_buf_put(self.dmabuf.as_ptr());
        }
    }
}
