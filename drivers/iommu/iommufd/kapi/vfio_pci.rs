// SPDX-License-Identifier: GPL-2.0

//! What iommufd calls of vfio-pci: the physical range of one of its dma-bufs
//! (`vfio_pci_dma_buf_iommufd_map()`, include/linux/vfio_pci_core.h), which vfio-pci
//! exports to a module named `iommufd` only.
//!
//! vfio-pci links against iommufd, so iommufd cannot link against vfio-pci: the function
//! is looked up by name while used ([`kernel::symbol::Symbol`], C's `symbol_get()`), which
//! holds vfio-pci meanwhile. Exercised end to end by `iommufd_rs_vfio`'s `p2p_dmabuf` (one
//! edu's DMA into another's BAR).

use kernel::{
    bindings, dma_buf::LockedAttachment, iommu::domain::PhysRange, prelude::*, symbol::Symbol,
};

use crate::pagetable::dmabuf::Revocable;

/// `vfio_pci_dma_buf_iommufd_map()`.
type MapFn = unsafe extern "C" fn(
    *mut bindings::dma_buf_attachment,
    *mut bindings::phys_vec,
) -> kernel::ffi::c_int;

/// Registers vfio-pci as an exporter of the IO page table layer, when the module loads.
pub(crate) fn register() {
    crate::pagetable::dmabuf::register_exporter(range);
}

/// vfio-pci's physical range of one of its dma-bufs: `EOPNOTSUPP` if vfio-pci is not
/// loaded or the buffer is not one of its (the last exporter asked answers for every
/// buffer); `ENODEV` if it is revoked.
fn range(locked: &LockedAttachment<'_, Revocable>) -> Option<Result<PhysRange>> {
    // SAFETY: `MapFn` is the function's C signature.
    let Some(map) = (unsafe { Symbol::<MapFn>::get(c"vfio_pci_dma_buf_iommufd_map") }) else {
        return Some(Err(EOPNOTSUPP));
    };
    let mut phys = bindings::phys_vec { paddr: 0, len: 0 };
    // SAFETY: The attachment is pinned and its reservation lock held, as the function
    // requires; `phys` is valid for its write; `map` holds vfio-pci for the call.
    let rc = unsafe { (map.func())(locked.as_raw(), &mut phys) };
    Some(kernel::error::to_result(rc).map(|()| {
        // SAFETY: The range is the device's BAR, exported in the pinned attachment, which
        // vfio-pci revokes (telling the importer, which unmaps it) before the BAR goes.
        unsafe { PhysRange::new(phys.paddr, phys.len) }
    }))
}
