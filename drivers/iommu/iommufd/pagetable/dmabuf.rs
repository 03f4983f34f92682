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
//! The C dma-buf API is `kernel::dma_buf`'s; an exporter's physical range comes from the
//! hook it registers ([`register_exporter`]): the test driver's mock exporter, and
//! vfio-pci's (`crate::kapi::vfio_pci`).
//!
//! # Lifetime
//!
//! An import holds a reference on the dma-buf and its attachment (pinned, as a dynamic
//! importer without move support must) from [`DmaBufImport::new`] until dropped, which
//! unmaps what is still mapped, then unpins, detaches and puts the buffer. It is attached
//! on behalf of iommufd's misc device. A tracked mapping holds its domain.
//!
//! # Locking
//!
//! The exporter's reservation lock (`dma_resv`) is taken before `Revocable::state`
//! (the exporter calls `invalidate_mappings` under it); `IoPageTable::state` is taken
//! before `Revocable::state` (filling domains), and never under it.

use kernel::{
    device::Device,
    dma_buf::{DmaBuf, DynamicAttachment, Importer, LockedAttachment},
    iommu::domain::{Domain, PhysRange, Prot},
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex, SetOnce},
};

/// A domain mapping of part of the buffer.
struct Tracked {
    domain: Arc<Domain>,
    iova: usize,
    len: usize,
}

/// What [`Revocable::state`] protects.
struct DmaState {
    /// The exporter's range; `None` once revoked.
    range: Option<PhysRange>,
    /// The domain mappings of the range.
    tracked: KVec<Tracked>,
}

impl DmaState {
    /// Unmaps every tracked mapping.
    fn unmap_all(&mut self) {
        for t in self.tracked.drain_all() {
            let done = t.domain.unmap(t.iova, t.len);
            kernel::warn_on!(done != t.len);
        }
    }
}

/// The importer of a dma-buf: its range and the domain mappings a revoke unmaps.
#[pin_data]
pub(crate) struct Revocable {
    #[pin]
    state: Mutex<DmaState>,
}

impl Importer for Revocable {
    const ALLOW_PEER2PEER: bool = true;

    fn invalidate_mappings(&self) {
        let mut state = self.state.lock();
        if state.range.take().is_some() {
            state.unmap_all();
        }
    }
}

/// An imported dma-buf.
pub(crate) struct DmaBufImport {
    attachment: DynamicAttachment<Revocable>,
}

/// How an exporter gives the physical range of one of its buffers to the pinned attachment
/// it is given, with the buffer's reservation lock held: `None` for another exporter's
/// buffer, `ENODEV` for a revoked one.
pub(crate) type ExporterRange = fn(&LockedAttachment<'_, Revocable>) -> Option<Result<PhysRange>>;

/// The exporters that registered (the test driver's mock, vfio-pci's), in order.
static EXPORTERS: [SetOnce<ExporterRange>; 2] = [const { SetOnce::new() }; 2];

/// Registers an exporter's hook, when the module loads, before any of its buffers is
/// imported: the IO page table layer knows neither the test driver nor vfio-pci.
pub(crate) fn register_exporter(range: ExporterRange) {
    kernel::warn_on!(!EXPORTERS.iter().any(|e| e.populate(range)));
}

/// The exporter's physical range for `locked`, as the hook of its exporter gives it.
///
/// # Errors
///
/// `EOPNOTSUPP` for an exporter without such a range; `ENODEV` if it is revoked.
fn exporter_range(locked: &LockedAttachment<'_, Revocable>) -> Result<PhysRange> {
    EXPORTERS
        .iter()
        .find_map(|e| e.as_ref().and_then(|range| range(locked)))
        .unwrap_or(Err(EOPNOTSUPP))
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
    pub(crate) fn new(fd: i32, dev: &Device, start: u64, length: usize) -> Option<Result<Self>> {
        let buf = DmaBuf::get(fd).ok()?;
        Some(Self::import(buf, dev, start, length))
    }

    fn import(buf: DmaBuf, dev: &Device, start: u64, length: usize) -> Result<Self> {
        let fits = buf.size() as u64 > start + length as u64 - 1;
        let importer = Arc::pin_init(
            pin_init!(Revocable {
                state <- new_mutex!(DmaState {
                    range: None,
                    tracked: KVec::new(),
                }),
            }),
            GFP_KERNEL_ACCOUNT,
        )?;
        if !fits {
            return Err(EINVAL);
        }
        let attachment = DynamicAttachment::new(buf, dev, importer)?;
        let locked = attachment.lock()?;
        locked.pin()?;
        let range = exporter_range(&locked)?;
        attachment.importer().state.lock().range = Some(range);
        drop(locked);
        Ok(Self { attachment })
    }

    fn state(&self) -> &Mutex<DmaState> {
        &self.attachment.importer().state
    }

    /// Maps `len` bytes from byte `offset` of the buffer at `iova` of `domain`, and tracks
    /// the mapping; maps nothing if the buffer is revoked.
    ///
    /// # Errors
    ///
    /// `EINVAL` beyond the buffer's range; as `iommu_map` fails; nothing stays mapped then.
    pub(crate) fn map(
        &self,
        domain: &Arc<Domain>,
        iova: usize,
        offset: u64,
        len: usize,
        prot: Prot,
    ) -> Result {
        let mut state = self.state().lock();
        if state.range.is_none() {
            return Ok(());
        }
        state.tracked.reserve(1, GFP_KERNEL_ACCOUNT)?;
        if let Some(range) = &state.range {
            domain.map_phys(iova, range, offset, len, prot, GFP_KERNEL_ACCOUNT)?;
        }
        // Room was reserved above.
        let _ = state.tracked.push_within_capacity(Tracked {
            domain: domain.clone(),
            iova,
            len,
        });
        Ok(())
    }

    /// Unmaps and untracks the mapping at `iova` of `domain`, unless a revoke did already.
    pub(crate) fn unmap(&self, domain: &Domain, iova: usize) {
        let mut state = self.state().lock();
        let Some(i) = state
            .tracked
            .iter()
            .position(|t| core::ptr::eq(&*t.domain, domain) && t.iova == iova)
        else {
            return;
        };
        if let Ok(t) = state.tracked.remove(i) {
            let done = domain.unmap(t.iova, t.len);
            kernel::warn_on!(done != t.len);
        }
    }
}

impl Drop for DmaBufImport {
    fn drop(&mut self) {
        // Every area unmaps before its pages go; should one not have, its mappings go now,
        // before the attachment is unpinned and the exporter may reuse the memory.
        let mut state = self.state().lock();
        kernel::warn_on!(!state.tracked.is_empty());
        state.unmap_all();
    }
}
