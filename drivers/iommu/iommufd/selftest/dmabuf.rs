// SPDX-License-Identifier: GPL-2.0

//! The mock dma-buf exporter: `IOMMU_TEST_OP_DMABUF_GET` exports a buffer of zeroed,
//! physically contiguous kernel pages, and `IOMMU_TEST_OP_DMABUF_REVOKE` revokes it (or
//! restores it), as a device driver would when its memory goes away. Its physical range
//! is what iommufd maps ([`phys`], the mock's `iommufd_test_dma_buf_iommufd_map`).

use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{
    bindings,
    dma_buf::{DmaBuf, LockedAttachment},
    iommu::domain::PhysRange,
    page::PAGE_SIZE,
    prelude::*,
};

use crate::{pagetable::dmabuf::Revocable, ucmd::UCmd};

/// The buffer behind a mock dma-buf (its `priv`).
///
/// # Invariants
///
/// `page` is an allocation of `2^order` zeroed pages this object owns, of which the first
/// `length` bytes are exported.
struct MockBuf {
    page: *mut bindings::page,
    order: u32,
    length: usize,
    /// Revoked by the test: the exporter refuses to give its range.
    revoked: AtomicBool,
}

impl Drop for MockBuf {
    fn drop(&mut self) {
        // SAFETY: We own the pages (type invariant); the buffer is released, so nothing
        // maps them any more.
        unsafe { bindings::__free_pages(self.page, self.order) };
    }
}

/// Accepts any importer (`dma_buf_ops::attach`).
///
/// # Safety
///
/// Called by the dma-buf core.
unsafe extern "C" fn mock_attach(
    _dmabuf: *mut bindings::dma_buf,
    _attach: *mut bindings::dma_buf_attachment,
) -> i32 {
    0
}

/// Nothing to undo (`dma_buf_ops::detach`).
///
/// # Safety
///
/// Called by the dma-buf core.
unsafe extern "C" fn mock_detach(
    _dmabuf: *mut bindings::dma_buf,
    _attach: *mut bindings::dma_buf_attachment,
) {
}

/// The mock has no scatterlist to give: importers use its physical range.
///
/// # Safety
///
/// Called by the dma-buf core.
unsafe extern "C" fn mock_map(
    _attach: *mut bindings::dma_buf_attachment,
    _dir: bindings::dma_data_direction,
) -> *mut bindings::sg_table {
    EOPNOTSUPP.to_ptr()
}

/// Nothing was mapped (`dma_buf_ops::unmap_dma_buf`).
///
/// # Safety
///
/// Called by the dma-buf core.
unsafe extern "C" fn mock_unmap(
    _attach: *mut bindings::dma_buf_attachment,
    _sgt: *mut bindings::sg_table,
    _dir: bindings::dma_data_direction,
) {
}

/// Frees the buffer with the last reference to the dma-buf.
///
/// # Safety
///
/// Called by the dma-buf core, once, with a buffer of [`get`].
unsafe extern "C" fn mock_release(dmabuf: *mut bindings::dma_buf) {
    // SAFETY: `priv` is the `MockBuf` leaked by `get`, taken back once, here.
    drop(unsafe { KBox::from_raw((*dmabuf).priv_.cast::<MockBuf>()) });
}

/// The mock exporter's operations.
struct Ops(bindings::dma_buf_ops);

// SAFETY: Never written after its constant initialisation.
unsafe impl Sync for Ops {}

static OPS: Ops = Ops(bindings::dma_buf_ops {
    attach: Some(mock_attach),
    detach: Some(mock_detach),
    map_dma_buf: Some(mock_map),
    unmap_dma_buf: Some(mock_unmap),
    release: Some(mock_release),
    // SAFETY: All-zero is a valid `dma_buf_ops`: every other callback absent.
    ..unsafe { core::mem::zeroed() }
});

/// The mock buffer of a dma-buf of the mock exporter.
fn mock_of(buf: &DmaBuf) -> Option<&MockBuf> {
    let dmabuf = buf.as_raw();
    // SAFETY: The buffer is valid while `buf` is; one with our ops has a `MockBuf` as
    // `priv`, alive as long as the buffer.
    unsafe { core::ptr::eq((*dmabuf).ops, &OPS.0).then(|| &*(*dmabuf).priv_.cast::<MockBuf>()) }
}

/// `IOMMU_TEST_OP_DMABUF_REVOKE`: revokes (or restores) the mock dma-buf `fd`, telling its
/// importers (`dma_buf_invalidate_mappings()`), as a driver does when the memory goes.
///
/// # Errors
///
/// As `dma_buf_get` fails (`EBADF`, `EINVAL`); `EOPNOTSUPP` for another exporter's.
pub(super) fn revoke(fd: i32, revoked: bool) -> Result {
    let buf = DmaBuf::get(fd)?;
    let mock = mock_of(&buf).ok_or(EOPNOTSUPP)?;
    let resv = buf.lock()?;
    mock.revoked.store(revoked, Ordering::Relaxed);
    resv.invalidate_mappings();
    Ok(())
}

/// The physical range of a mock dma-buf for `locked`; `None` for another exporter's.
///
/// # Errors
///
/// `ENODEV` if the buffer is revoked.
pub(super) fn phys(locked: &LockedAttachment<'_, Revocable>) -> Option<Result<PhysRange>> {
    let buf = mock_of(locked.attachment().buf())?;
    if buf.revoked.load(Ordering::Relaxed) {
        return Some(Err(ENODEV));
    }
    // SAFETY: `page_to_pfn` computes with the pointer only.
    let pfn = unsafe { bindings::page_to_pfn(buf.page) } as u64;
    // SAFETY: The pages are the buffer's, freed only with its last reference, which the
    // attachment holds; a revoke tells the importer (`revoke` above), which unmaps the
    // range before it returns.
    Some(Ok(unsafe {
        PhysRange::new(pfn * PAGE_SIZE as u64, buf.length)
    }))
}

/// `IOMMU_TEST_OP_DMABUF_GET`: exports a mock dma-buf of `length` bytes (rounded up to
/// pages, at most 512) with the file flags `open_flags`; the ioctl returns its descriptor.
///
/// # Errors
///
/// `EINVAL` for a zero or too large length; as exporting fails; `ENOMEM`, `EMFILE`.
pub(super) fn get(ucmd: &UCmd<'_>, length: u32, open_flags: u32) -> Result {
    let length = (length as usize).next_multiple_of(PAGE_SIZE);
    if length == 0 || length > PAGE_SIZE * 512 {
        return Err(EINVAL);
    }
    let order = (length / PAGE_SIZE).next_power_of_two().trailing_zeros();
    // SAFETY: Plain allocation.
    let page = unsafe { bindings::alloc_pages(bindings::GFP_KERNEL | bindings::__GFP_ZERO, order) };
    if page.is_null() {
        return Err(ENOMEM);
    }
    // INVARIANT: The pages are ours.
    let buf = KBox::new(
        MockBuf {
            page,
            order,
            length,
            revoked: AtomicBool::new(false),
        },
        GFP_KERNEL,
    )?;
    let buf = KBox::into_raw(buf);
    // SAFETY: All-zero is a valid export info; the fields the core reads are set below.
    let mut info: bindings::dma_buf_export_info = unsafe { core::mem::zeroed() };
    info.exp_name = c"iommufd".as_char_ptr();
    info.owner = crate::THIS_MODULE.as_ptr();
    info.ops = &OPS.0;
    info.size = length;
    info.flags = open_flags as i32;
    info.priv_ = buf.cast();
    // SAFETY: `info` is valid for the call; on success the buffer owns `priv`.
    let dmabuf = unsafe { bindings::dma_buf_export(&info) };
    let dmabuf = match kernel::error::from_err_ptr(dmabuf) {
        Ok(d) => d,
        Err(e) => {
            // SAFETY: Not exported: `priv` is still ours.
            drop(unsafe { KBox::from_raw(buf) });
            return Err(e);
        }
    };
    // SAFETY: The buffer is valid; on success the descriptor takes our reference.
    let fd = unsafe { bindings::dma_buf_fd(dmabuf, open_flags as i32) };
    if fd < 0 {
        // SAFETY: Our reference, not handed over; releasing it frees the mock buffer.
        unsafe { bindings::dma_buf_put(dmabuf) };
        return Err(Error::from_errno(fd));
    }
    ucmd.set_return(fd as isize);
    Ok(())
}
