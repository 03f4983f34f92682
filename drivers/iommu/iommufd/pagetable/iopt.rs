// SPDX-License-Identifier: GPL-2.0

//! The IO page table of an IOAS: which IOVA may be used and how.
//!
//! # Data
//!
//! - `reserved`: IOVA no mapping may use. The system layer fills it (reserved regions of
//!   attached devices, MSI windows); `IOMMU_IOAS_IOVA_RANGES` reports its holes.
//! - `iova_alignment`: the alignment every mapping's IOVA needs. 1 for a table with no
//!   hardware domain, as in C: software users accept any `size_t` IOVA.
//! - `large_pages`: `IOMMU_OPTION_HUGE_PAGES`.
//!
//! # Locking
//!
//! All of it is under the `state` mutex. Copying to and from user memory under it is allowed
//! (it is not taken by page fault handling).

use kernel::{new_mutex, prelude::*, sync::Mutex};

use super::iova::{IovaRange, IovaSet};

/// What an [`IoPageTable`] protects with its mutex.
pub(crate) struct IoptState {
    /// IOVA no mapping may use.
    pub(crate) reserved: IovaSet,
    /// Required alignment of a mapping's IOVA.
    pub(crate) iova_alignment: u64,
    /// Whether mappings may use huge IOPTEs.
    pub(crate) large_pages: bool,
}

/// The IO page table of one IOAS.
#[pin_data]
pub(crate) struct IoPageTable {
    #[pin]
    pub(crate) state: Mutex<IoptState>,
}

/// The whole IOVA space: the uAPI uses `u64`, the kernel's IOVA is an `unsigned long`.
pub(crate) const IOVA_SPACE: IovaRange = IovaRange {
    start: 0,
    last: usize::MAX as u64,
};

impl IoPageTable {
    /// An empty table: no mappings, nothing reserved, everything allowed.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            state <- new_mutex!(IoptState {
                reserved: IovaSet::new(),
                iova_alignment: 1,
                large_pages: true,
            }),
        })
    }

    /// Whether mappings may use huge IOPTEs.
    pub(crate) fn large_pages(&self) -> bool {
        self.state.lock().large_pages
    }

    /// Allows or forbids huge IOPTEs for mappings (`IOMMU_OPTION_HUGE_PAGES`).
    ///
    /// Without hardware domains, the IOVA alignment does not depend on it, so this cannot
    /// fail yet; it returns `Result` because forbidding huge pages will fail with `EINVAL`
    /// once domains already hold mappings.
    pub(crate) fn set_large_pages(&self, enable: bool) -> Result {
        self.state.lock().large_pages = enable;
        Ok(())
    }
}
