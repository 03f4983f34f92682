// SPDX-License-Identifier: GPL-2.0

//! What IO page tables hold, for the live view of a context (its `fdinfo` and its
//! directory in debugfs).
//!
//! Reading takes the IO page table's lock and each `Pages`' lock in the usual order (see
//! the crate's lock order), so a reader sees each table between two operations, never one
//! half done.

use core::fmt;

use kernel::{page::PAGE_SIZE, prelude::*, sync::Arc};

use super::{iopt::IoPageTable, iova::IovaRange, pages::Pages, Ioas};
use crate::object::ObjectTable;

/// Pinned memory of several IO page tables, each `Pages` counted once however many
/// mappings (of one IOAS or several, after `IOMMU_IOAS_COPY`) share it.
struct PinnedTally {
    seen: KVec<*const Pages>,
    /// Pages pinned, over the `Pages` seen.
    pages: usize,
}

impl PinnedTally {
    /// Nothing counted yet.
    fn new() -> Self {
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
    fn add(&mut self, iopt: &IoPageTable) -> Result {
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

/// The bytes the IOASes of `objects` pin, each `Pages` once; `None` short of memory.
pub(crate) fn pinned_bytes(objects: &ObjectTable) -> Option<usize> {
    let mut tally = PinnedTally::new();
    let all = objects.peek_all::<Ioas>().ok()?;
    all.iter()
        .try_for_each(|(_, ioas)| tally.add(&ioas.iopt))
        .ok()?;
    Some(tally.pages * PAGE_SIZE)
}

/// Histogram buckets of run sizes: a run of `n` pages counts in bucket `log2(n)` (bucket 9
/// is 2 MiB runs of 4 KiB pages), the last bucket takes every larger run.
const RUN_ORDERS: usize = 20;

/// Writes what `iopt` holds, the body of an IOAS's section in debugfs's `ioas`
/// (Documentation/iommufd-rs/observability.rst): a line per mapping, then its pinned pages
/// and the runs they form, its reserved and allowed ranges, its domains and accesses.
///
/// Runs once under the table's lock, so it shows the table between two operations.
pub(crate) fn write_iopt(iopt: &IoPageTable, f: &mut impl fmt::Write) -> fmt::Result {
    let state = iopt.state.lock();
    let mut orders = [0usize; RUN_ORDERS];
    let (mut pinned, mut runs) = (0usize, 0usize);
    // An area a map is building or an unmap tearing down is not a mapping (yet, or any more).
    for (last, area) in state.areas.iter().filter(|(_, area)| !area.busy) {
        let (first_page, last_page) = (area.index_of(area.iova), area.index_of(*last));
        let mut area_pinned = 0;
        area.pages
            .for_each_pinned(first_page, last_page, |_, _, _, count| {
                area_pinned += count;
                runs += 1;
                let order = (usize::BITS - 1 - count.leading_zeros()) as usize;
                orders[order.min(RUN_ORDERS - 1)] += 1;
            });
        pinned += area_pinned;
        write!(
            f,
            "area {:#x}-{:#x} prot={}{} pages={} pinned={} ",
            area.iova,
            last,
            if area.prot.read { 'r' } else { '-' },
            if area.prot.write { 'w' } else { '-' },
            last_page - first_page + 1,
            area_pinned,
        )?;
        area.pages.write_source(f, area.start_byte)?;
        writeln!(f, " accesses={}", area.num_accesses)?;
    }
    writeln!(
        f,
        "pinned pages={pinned} bytes={} runs={runs}",
        pinned * PAGE_SIZE
    )?;
    write!(f, "runs-by-order")?;
    for (order, n) in orders.iter().enumerate().filter(|(_, &n)| n != 0) {
        write!(f, " {order}:{n}")?;
    }
    writeln!(f)?;
    let range = |f: &mut dyn fmt::Write, what: &str, r: &IovaRange| {
        write!(f, "{what} {:#x}-{:#x}", r.start, r.last)
    };
    for r in state.reserved_fixed.iter() {
        range(f, "reserved", r)?;
        writeln!(f, " why=fixed")?;
    }
    for (dev_id, r) in state.reserved_dev.iter() {
        range(f, "reserved", r)?;
        writeln!(f, " why=device:{dev_id}")?;
    }
    for r in state.allowed.iter() {
        range(f, "allowed", r)?;
        writeln!(f)?;
    }
    writeln!(
        f,
        "domains {} accesses {}",
        state.domain_limits.count,
        state.accesses.len()
    )
}
