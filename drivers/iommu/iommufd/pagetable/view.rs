// SPDX-License-Identifier: GPL-2.0

//! What IO page tables hold, for the live view of a context (its `fdinfo`).
//!
//! Reading takes the IO page table's lock and each `Pages`' lock in the usual order (see
//! the crate's lock order), so a reader sees each table between two operations, never one
//! half done.

use kernel::{prelude::*, sync::Arc};

use super::{iopt::IoPageTable, pages::Pages};

/// Pinned memory of several IO page tables, each `Pages` counted once however many
/// mappings (of one IOAS or several, after `IOMMU_IOAS_COPY`) share it.
pub(crate) struct PinnedTally {
    seen: KVec<*const Pages>,
    /// Pages pinned, over the `Pages` seen.
    pub(crate) pages: usize,
}

impl PinnedTally {
    /// Nothing counted yet.
    pub(crate) fn new() -> Self {
        Self {
            seen: KVec::new(),
            pages: 0,
        }
    }

    /// Counts the pinned pages of `iopt`'s memory not counted yet.
    ///
    /// # Errors
    ///
    /// `ENOMEM`.
    pub(crate) fn add(&mut self, iopt: &IoPageTable) -> Result {
        let state = iopt.state.lock();
        for (_, area) in state.areas.iter() {
            let p = Arc::as_ptr(&area.pages);
            if self.seen.contains(&p) {
                continue;
            }
            self.seen.push(p, GFP_KERNEL)?;
            self.pages += area.pages.npinned();
        }
        Ok(())
    }
}
