// SPDX-License-Identifier: GPL-2.0

//! The pinned pages of a [`super::pages::Pages`], as runs of contiguous pfns.
//!
//! A page of a `Pages` is pinned while something uses it: a hardware page table filled from
//! an area over it, or an in-kernel access that pinned it. Each such use is a *user* of a
//! range of page indexes. The set keeps, for every pinned page, the number of users; a page
//! is pinned when its first user comes and unpinned when its last one goes, so it holds
//! exactly one pin whatever the number of users.
//!
//! # Data layout
//!
//! Runs: `(first index, pins, users)`, 24 bytes each (the pins a [`PinnedRun`] of 12 bytes: first
//! pfn, count, dirty), sorted by index and disjoint, in one vector. A run is a stretch of pages
//! with consecutive indexes *and* consecutive pfns and the same number of users. Memory backed by
//! huge pages (THP, hugetlb, a hugetlbfs memfd) or by physically contiguous 4 KiB pages is a
//! handful of runs, so pinning 1 GiB of it costs kilobytes of metadata rather than the 2 MiB that a
//! pointer per page would take. Memory scattered page by page costs a run per page, 24 bytes.
//!
//! Every user range is added and removed whole (C's rule for accesses: unpin exactly what
//! was pinned), so the run boundaries made when a user was added are still there when it is
//! removed, and removing never needs to split a run, that is, to allocate: tearing down
//! cannot fail. Runs are never merged across such a boundary.
//!
//! Each run owns its pins as a [`PinnedRun`]: a run that leaves the set (its last user
//! gone, the set dropped) unpins its pages, and nothing else does. `users` is at least 1.

use kernel::{
    alloc::{flags::GFP_KERNEL_ACCOUNT, KVVec},
    mm::pin::{PinBatch, PinnedRun},
    prelude::*,
};

/// Runs reserved at once for pinning a hole (12 KiB of runs): a bound on how far ahead of
/// its batches [`PinnedSet::add_users`] grows the array.
const RESERVE_RUNS: usize = 512;

/// Where the pages of a set come from and whom they are charged to.
pub(crate) trait PinSource {
    /// Pins up to `npages` pages from index `index` into `batch`; returns how many.
    fn pin(&self, batch: &mut PinBatch, index: usize, npages: usize) -> Result<usize>;
    /// Charges `npages` newly pinned pages.
    fn charge(&self, npages: usize) -> Result;
    /// Refunds `npages` pages about to be unpinned.
    fn uncharge(&self, npages: usize);
    /// Whether pages are unpinned dirty (the memory was pinned for writing).
    fn dirty(&self) -> bool;
    /// Pages a pinning batch may hold.
    fn batch_pages(&self) -> usize;
}

/// A run of pinned pages.
struct Run {
    /// First page index.
    index: usize,
    /// The pins of its pages.
    pins: PinnedRun,
    /// Users of every page of the run.
    users: u32,
}

impl Run {
    /// One past the last index.
    fn end(&self) -> usize {
        self.index + self.pins.count()
    }
}

// A run costs what the module's documentation says, 24 bytes on 64-bit machines.
#[cfg(CONFIG_64BIT)]
const _: () = assert!(core::mem::size_of::<Run>() == 24);

/// The pinned pages of one `Pages`.
pub(crate) struct PinnedSet {
    runs: KVVec<Run>,
    /// Pages pinned (the sum of the runs' counts).
    npinned: usize,
}

impl PinnedSet {
    /// An empty set.
    pub(crate) const fn new() -> Self {
        Self {
            runs: KVVec::new(),
            npinned: 0,
        }
    }

    /// Pages pinned.
    pub(crate) fn npinned(&self) -> usize {
        self.npinned
    }

    /// Runs of contiguous pinned pages the set holds (a run is split where users differ).
    pub(crate) fn nruns(&self) -> usize {
        self.runs.len()
    }

    /// The position of the first run that ends after `index`.
    fn find(&self, index: usize) -> usize {
        self.runs.partition_point(|r| r.end() <= index)
    }

    /// The run that holds page `index`, if one does.
    fn run_of(&self, index: usize) -> Option<&Run> {
        self.runs.get(self.find(index)).filter(|r| r.index <= index)
    }

    /// Whether page `index` is pinned.
    pub(crate) fn contains(&self, index: usize) -> bool {
        self.run_of(index).is_some()
    }

    /// Makes `index` the start of a run if a run covers it.
    pub(crate) fn split_at(&mut self, index: usize) -> Result {
        let i = self.find(index);
        let Some(run) = self.runs.get(i) else {
            return Ok(());
        };
        if run.index >= index {
            return Ok(());
        }
        self.runs.reserve(1, GFP_KERNEL_ACCOUNT)?;
        let run = &mut self.runs[i];
        let users = run.users;
        let tail = Run {
            index,
            pins: run.pins.split_off(index - run.index)?,
            users,
        };
        // Room was reserved above, so this does not fail; if it did, the pages must stay
        // pinned (domains may map them): they would leak rather than be unpinned.
        if let Err(tail) = self.runs.insert_within_capacity(i + 1, tail) {
            kernel::warn_on!(true);
            core::mem::forget(tail);
        }
        Ok(())
    }

    /// Adds a user to pages `first..=last`, pinning (and charging) those that had none.
    ///
    /// On error nothing changed: pages pinned on the way are unpinned and refunded.
    ///
    /// # Errors
    ///
    /// `ENOMEM`; `EOVERFLOW` if a page has `u32::MAX` users; as pinning or charging fails
    /// (`ENOMEM` over `RLIMIT_MEMLOCK`, `EFAULT` for unmapped memory).
    pub(crate) fn add_users(&mut self, first: usize, last: usize, src: &impl PinSource) -> Result {
        self.split_at(first)?;
        if let Some(end) = last.checked_add(1) {
            self.split_at(end)?;
        }
        let mut cur = first;
        let res = self.add_from(&mut cur, last, src);
        if res.is_err() && cur > first {
            self.remove_users(first, cur - 1, src);
        }
        // Pinning reserves a run per page; give back what contiguity saved, so that memory
        // in huge pages keeps costing a few runs. Keeping the larger array is harmless.
        let len = self.runs.len();
        if self.runs.capacity() > 2 * len + 64 {
            let _ = self.runs.shrink_to(len, GFP_KERNEL_ACCOUNT);
        }
        res
    }

    /// The body of [`PinnedSet::add_users`]: adds users from `*cur`, which it advances past
    /// the pages done.
    fn add_from(&mut self, cur: &mut usize, last: usize, src: &impl PinSource) -> Result {
        let mut i = self.find(*cur);
        // C's fault point in the accounting comes once per operation.
        let mut accounted = false;
        while *cur <= last {
            if let Some(run) = self.runs.get_mut(i).filter(|r| r.index == *cur) {
                // Splitting at `last + 1` made every run that starts here end by then.
                run.users = run.users.checked_add(1).ok_or(EOVERFLOW)?;
                *cur = run.end();
                i += 1;
                continue;
            }
            let hole_last = match self.runs.get(i) {
                Some(next) => (next.index - 1).min(last),
                None => last,
            };
            let want = hole_last - *cur + 1;
            // C's fault point in the temporary allocation of a batch.
            if crate::should_fail() {
                return Err(ENOMEM);
            }
            // Room for the runs of the whole hole at once (up to a bound), so that its
            // batches do not grow the array one after the other: fewer allocations, each
            // of which can fail.
            self.runs
                .reserve(want.min(RESERVE_RUNS), GFP_KERNEL_ACCOUNT)?;
            let mut batch = PinBatch::new(want.min(src.batch_pages()))?;
            while *cur <= hole_last {
                let n = src.pin(&mut batch, *cur, hole_last - *cur + 1)?;
                // Room for a run per page, so that storing the runs cannot fail. Dropping
                // the batch on failure unpins what it holds.
                self.runs.reserve(n, GFP_KERNEL_ACCOUNT)?;
                if !accounted {
                    accounted = true;
                    // C's fault point in charging newly pinned pages.
                    if crate::should_fail() {
                        return Err(ENOMEM);
                    }
                }
                src.charge(n)?;
                let mut stored = 0usize;
                let mut index = *cur;
                let dirty = src.dirty();
                let runs = &mut self.runs;
                let res = batch.take_runs(dirty, |pins| {
                    let count = pins.count();
                    let run = Run {
                        index,
                        pins,
                        users: 1,
                    };
                    // Room was reserved above: at most one run per page. Were there none,
                    // dropping the run would unpin it, as `take_runs` expects.
                    runs.insert_within_capacity(i, run).map_err(|_| ENOMEM)?;
                    i += 1;
                    index += count;
                    stored += count;
                    Ok(())
                });
                self.npinned += stored;
                *cur += stored;
                if let Err(e) = res {
                    // `take_runs` unpinned what was not stored.
                    src.uncharge(n - stored);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Removes a user from pages `first..=last`, which must have been added as one range
    /// (possibly within a larger one); unpins and refunds pages left without users.
    ///
    /// This cannot fail. A range that was never added is a bug of the caller: it is reported
    /// and the pages it names without a user are skipped.
    pub(crate) fn remove_users(&mut self, first: usize, last: usize, src: &impl PinSource) {
        // Boundaries from adding the range are in place; splitting only happens (and may
        // fail, to no harm) for a range that was not added whole.
        if self.split_at(first).is_err()
            || last
                .checked_add(1)
                .is_some_and(|e| self.split_at(e).is_err())
        {
            kernel::warn_on!(true);
        }
        let mut i = self.find(first);
        let mut freed = 0usize;
        let mut cur = first;
        while let Some(run) = self.runs.get_mut(i) {
            if run.index > last {
                break;
            }
            if run.index != cur || run.end() - 1 > last {
                kernel::warn_on!(true);
            }
            cur = run.end();
            run.users -= 1;
            if run.users == 0 {
                freed += run.pins.count();
            }
            i += 1;
        }
        if cur <= last {
            kernel::warn_on!(true);
        }
        if freed == 0 {
            return;
        }
        src.uncharge(freed);
        self.npinned -= freed;
        // The runs left without users leave the set, and dropping them unpins them.
        self.runs.retain(|run| run.users != 0);
    }

    /// Calls `f(index, pins, skip, count)` for the pinned pages in `first..=last`, in
    /// order: pages `index..index + count` are pages `skip..skip + count` of the run `pins`.
    pub(crate) fn for_each_run(
        &self,
        first: usize,
        last: usize,
        mut f: impl FnMut(usize, &PinnedRun, usize, usize),
    ) {
        let mut i = self.find(first);
        while let Some(run) = self.runs.get(i) {
            if run.index > last {
                return;
            }
            let from = run.index.max(first);
            let to = (run.end() - 1).min(last);
            f(from, &run.pins, from - run.index, to - from + 1);
            i += 1;
        }
    }

    /// Copies between `buf` and page `index` from byte `offset` if the set holds that page:
    /// into it if `write`, out of it otherwise. Returns `None` when the page is not pinned.
    pub(crate) fn copy(
        &self,
        index: usize,
        offset: usize,
        buf: &mut [u8],
        write: bool,
    ) -> Option<Result> {
        let run = self.run_of(index)?;
        Some(run.pins.copy(index - run.index, offset, buf, write))
    }

    /// Unpins everything, whatever the users (a `Pages` dropped with users left is a bug);
    /// returns the pages unpinned.
    pub(crate) fn release_all(&mut self) -> usize {
        self.runs.clear();
        core::mem::take(&mut self.npinned)
    }
}
