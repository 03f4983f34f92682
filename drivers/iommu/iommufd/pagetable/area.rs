// SPDX-License-Identifier: GPL-2.0

//! Areas: the mappings of an IO page table.
//!
//! An area maps the IOVA range `[iova, last]` to the bytes `[start_byte, start_byte +
//! length)` of a [`Pages`]. Areas of one table never overlap. They are kept in a red-black
//! tree keyed by their *last* IOVA: the first area that ends at or after an IOVA is then one
//! lower-bound lookup away, which is what every range query needs.

use kernel::{rbtree::RBTree, sync::Arc};

use super::{iova::IovaRange, pages::Pages};

/// The access an area grants devices.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Prot {
    /// Devices may read.
    pub(crate) read: bool,
    /// Devices may write.
    pub(crate) write: bool,
}

/// One mapping.
pub(crate) struct Area {
    /// First IOVA.
    pub(crate) iova: u64,
    /// The memory.
    pub(crate) pages: Arc<Pages>,
    /// Offset of `iova`'s byte in `pages`.
    pub(crate) start_byte: usize,
    /// Allowed access.
    pub(crate) prot: Prot,
    /// In-kernel accesses that hold pins on part of the area (C's `num_accesses`): an
    /// unmap asks them to let go first.
    pub(crate) num_accesses: u32,
    /// Of those, pins of internal accesses (a HW queue's), which cannot be asked to let go:
    /// an unmap fails with `EBUSY` while there are any (C's `num_locks`).
    pub(crate) num_locks: u32,
    /// Set by an unmap waiting for accesses to let go: new accesses are refused.
    pub(crate) prevent_access: bool,
    /// A map is filling the domains with the area, or an unmap is emptying them of it
    /// (C's `area->pages == NULL`): it holds its IOVA, but nothing else may use or change it
    /// ([`IoPageTable`](super::iopt::IoPageTable) explains the locking).
    pub(crate) busy: bool,
}

impl Area {
    /// A new area mapping `iova` onward to `pages` from byte `start_byte`, with `prot`.
    pub(crate) fn new(iova: u64, pages: Arc<Pages>, start_byte: usize, prot: Prot) -> Self {
        Self {
            iova,
            pages,
            start_byte,
            prot,
            num_accesses: 0,
            num_locks: 0,
            prevent_access: false,
            busy: false,
        }
    }

    /// What filling or emptying the domains needs of the area: a copy that does not share
    /// its counters, used without the table's lock while the area is `busy`.
    pub(crate) fn detached(&self) -> Self {
        Self::new(self.iova, self.pages.clone(), self.start_byte, self.prot)
    }

    /// The index, in its `Pages`, of the page holding `iova`'s byte (which must be in the
    /// area).
    pub(crate) fn index_of(&self, iova: u64) -> usize {
        self.byte_of(iova) / kernel::page::PAGE_SIZE
    }

    /// Checks that an in-kernel access may read (or, if `write`, write) the area.
    ///
    /// # Errors
    ///
    /// `EINVAL` while an unmap waits for accesses to let go, `EPERM` without the access.
    pub(crate) fn check_access(&self, write: bool) -> kernel::error::Result {
        if self.prevent_access {
            return Err(kernel::error::code::EINVAL);
        }
        let allowed = if write {
            self.prot.write
        } else {
            self.prot.read
        };
        if allowed {
            Ok(())
        } else {
            Err(kernel::error::code::EPERM)
        }
    }

    /// The offset, in its `Pages`, of `iova`'s byte (which must be in the area).
    pub(crate) fn byte_of(&self, iova: u64) -> usize {
        self.start_byte + (iova - self.iova) as usize
    }
}

/// The areas of a table, by last IOVA.
pub(crate) type AreaTree = RBTree<u64, Area>;

/// Runs `f` on the first area of `tree` that intersects `range`, with its last IOVA.
///
/// One lower-bound lookup: the first area that ends at or after `range.start` intersects
/// `range` if it starts at or before `range.last`.
pub(crate) fn with_first_in<R>(
    tree: &AreaTree,
    range: IovaRange,
    f: impl FnOnce(u64, &Area) -> R,
) -> Option<R> {
    let cursor = tree.cursor_lower_bound(&range.start)?;
    let (&last, area) = cursor.current();
    (area.iova <= range.last).then(|| f(last, area))
}

/// The IOVA range of the first area of `tree` that intersects `range`.
pub(crate) fn first_in(tree: &AreaTree, range: IovaRange) -> Option<IovaRange> {
    with_first_in(tree, range, |last, area| IovaRange {
        start: area.iova,
        last,
    })
}
