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
    #[expect(
        dead_code,
        reason = "read when hardware page tables are filled from areas"
    )]
    pub(crate) prot: Prot,
}

/// The areas of a table, by last IOVA.
pub(crate) type AreaTree = RBTree<u64, Area>;

/// The first area of `tree` that intersects `range`, as (last IOVA, area).
pub(crate) fn first_in(tree: &AreaTree, range: IovaRange) -> Option<(u64, &Area)> {
    // The cursor's borrow ends with it; look the key up again for a borrow of the tree.
    let last = *tree.cursor_lower_bound(&range.start)?.current().0;
    let area = tree.get(&last)?;
    (area.iova <= range.last).then_some((last, area))
}
