// SPDX-License-Identifier: GPL-2.0

//! In-kernel access to an IO page table: what emulated devices (and the test command's
//! accesses) do instead of DMA.
//!
//! An access attached to an IOAS may pin the pages under an IOVA range
//! ([`IoPageTable::access_pin`], returning their pfns) and unpin exactly that range later
//! ([`IoPageTable::access_unpin`]), or copy to and from an IOVA range
//! ([`IoPageTable::access_rw`]).
//!
//! Pins add a user to the pages of each area of the range ([`super::pages::Pages::add_users`])
//! and count the access on the area (`num_accesses`). Unmapping such an area first asks every
//! attached access to let go of the range ([`AccessNotify::notify_unmap`]), with the table's
//! lock released, and retries, as C does.

use kernel::{alloc::flags::GFP_KERNEL_ACCOUNT, page::PAGE_SIZE, prelude::*, sync::Arc};

use super::{
    area::Area,
    iopt::{IoPageTable, IoptState},
    iova::IovaRange,
    pages::RwFlags,
};

/// An attached access, as the IO page table sees it.
pub(crate) trait AccessNotify: Send + Sync {
    /// Asks the access to unpin everything it pinned in `[iova, iova + length)`; when this
    /// returns, it has.
    fn notify_unmap(&self, iova: u64, length: u64);
}

/// One attached access.
pub(crate) struct AccessEntry {
    /// Whom to notify.
    pub(crate) notify: Arc<dyn AccessNotify>,
    /// The IOVA alignment the access needs (`PAGE_SIZE` for one that pins pages).
    pub(crate) alignment: u64,
}

impl IoptState {
    /// Walks the areas that cover `range` without a gap, calling `f(area, first, last)` with
    /// the part of `range` in each; stops at the first error.
    ///
    /// Returns the IOVA after the last part done, and the error if any. `ENOENT` if an IOVA
    /// of `range` is not mapped.
    fn walk(
        &mut self,
        range: IovaRange,
        mut f: impl FnMut(&mut Area, u64, u64) -> Result,
    ) -> (u64, Result) {
        let mut cur = range.start;
        loop {
            let step = {
                // The first area that ends at or after `cur` holds it if it starts by then.
                let Some(mut cursor) = self.areas.cursor_lower_bound_mut(&cur) else {
                    return (cur, Err(ENOENT));
                };
                let (&area_last, area) = cursor.current_mut();
                // An area being built or torn down is not mapped (as C's contiguous walk).
                if area.iova > cur || area.busy {
                    return (cur, Err(ENOENT));
                }
                let upto = area_last.min(range.last);
                f(area, cur, upto).map(|()| upto)
            };
            match step {
                Err(e) => return (cur, Err(e)),
                Ok(upto) if upto == range.last => return (upto.wrapping_add(1), Ok(())),
                Ok(upto) => cur = upto + 1,
            }
        }
    }

    /// Whether every area is aligned to `alignment`.
    pub(crate) fn areas_aligned(&self, alignment: u64) -> bool {
        let mask = alignment - 1;
        self.areas.iter().all(|(&last, area)| {
            area.iova & mask == 0
                && (last - area.iova + 1) & mask == 0
                && (area.start_byte % PAGE_SIZE) as u64 & mask == 0
        })
    }
}

impl IoPageTable {
    /// Attaches an access that needs `alignment`.
    ///
    /// # Errors
    ///
    /// `EADDRINUSE` if a mapping is not aligned as the access needs, `ENOMEM`.
    pub(crate) fn add_access(&self, notify: Arc<dyn AccessNotify>, alignment: u64) -> Result {
        let mut state = self.state.lock();
        if alignment > state.iova_alignment && !state.areas_aligned(alignment) {
            return Err(EADDRINUSE);
        }
        state
            .accesses
            .push(AccessEntry { notify, alignment }, GFP_KERNEL_ACCOUNT)?;
        state.iova_alignment = state.needed_alignment();
        Ok(())
    }

    /// Detaches an access attached with [`IoPageTable::add_access`].
    pub(crate) fn remove_access(&self, notify: &Arc<dyn AccessNotify>) {
        let mut state = self.state.lock();
        let before = state.accesses.len();
        state
            .accesses
            .retain(|a| !core::ptr::addr_eq(Arc::as_ptr(&a.notify), Arc::as_ptr(notify)));
        kernel::warn_on!(state.accesses.len() + 1 != before);
        state.iova_alignment = state.needed_alignment();
    }

    /// Asks every attached access to unpin what it pinned in `range`, without the table's
    /// lock (the accesses take it to unpin). Accesses attached or detached meanwhile may be
    /// skipped or asked twice, which the caller's retry makes harmless, as in C.
    pub(crate) fn notify_unmap(&self, range: IovaRange) {
        let mut k = 0;
        loop {
            let next = self.state.lock().accesses.get(k).map(|a| a.notify.clone());
            let Some(access) = next else {
                return;
            };
            access.notify_unmap(range.start, range.last - range.start + 1);
            k += 1;
        }
    }

    /// Pins the pages under `range` for an access; calls `out(pfn)` for each page, in order.
    ///
    /// The range must be mapped without a gap, start and end on page boundaries of the
    /// memory, and (for `write`) be writeable. On error nothing stays pinned.
    ///
    /// # Errors
    ///
    /// `ENOENT` if some IOVA is not mapped, `EINVAL` if misaligned or being unmapped, `EPERM`
    /// without the access asked, `ENOMEM` (also over `RLIMIT_MEMLOCK`), `EFAULT`.
    /// With `lock`, the pins lock their areas against unmap (internal accesses).
    pub(crate) fn access_pin(
        &self,
        range: IovaRange,
        write: bool,
        lock: bool,
        mut out: impl FnMut(usize),
    ) -> Result {
        let mut state = self.state.lock();
        let (reached, res) = state.walk(range, |area, first, last| {
            // Both ends must fall on page boundaries of the memory.
            if area.byte_of(first) % PAGE_SIZE != 0
                || (last != range.last && area.byte_of(last) % PAGE_SIZE != PAGE_SIZE - 1)
            {
                return Err(EINVAL);
            }
            area.check_access(write)?;
            if area.pages.dmabuf().is_some() {
                // dma-buf memory has no pages to hand out.
                return Err(EINVAL);
            }
            let (fi, li) = (area.index_of(first), area.index_of(last));
            area.pages.add_users(fi, li)?;
            // C's fault point in storing an access's pins (its `pinned_pfns` xarray).
            if crate::should_fail() {
                area.pages.remove_users(fi, li);
                return Err(EINVAL);
            }
            area.num_accesses += 1;
            area.num_locks += u32::from(lock);
            let mut next = fi;
            area.pages
                .for_each_pinned(fi, li, |index, run, skip, count| {
                    debug_assert!(index == next);
                    for k in skip..skip + count {
                        out(run.pfn() + k);
                    }
                    next = index + count;
                });
            Ok(())
        });
        if res.is_err() && reached > range.start {
            state.unpin_range(
                IovaRange {
                    start: range.start,
                    last: reached - 1,
                },
                lock,
            );
        }
        res
    }

    /// Unpins a range pinned whole with [`IoPageTable::access_pin`], with the same `lock`.
    pub(crate) fn access_unpin(&self, range: IovaRange, lock: bool) {
        self.state.lock().unpin_range(range, lock);
    }

    /// Copies between `buf` and the memory mapped at `start`: into it if `write`.
    ///
    /// # Errors
    ///
    /// `ENOENT` if some IOVA is not mapped, `EINVAL` if being unmapped, `EPERM` without the
    /// access asked, `EFAULT`, `ENOMEM`.
    pub(crate) fn access_rw(&self, start: u64, buf: &mut [u8], flags: RwFlags) -> Result {
        let write = flags.write;
        if buf.is_empty() {
            return Err(EINVAL);
        }
        let last = start.checked_add(buf.len() as u64 - 1).ok_or(EOVERFLOW)?;
        let mut state = self.state.lock();
        let mut done = 0usize;
        state
            .walk(IovaRange { start, last }, |area, first, last| {
                area.check_access(write)?;
                let len = (last - first + 1) as usize;
                area.pages
                    .rw(area.byte_of(first), &mut buf[done..done + len], flags)?;
                done += len;
                Ok(())
            })
            .1
    }
}

impl IoptState {
    /// Removes an access's users from `range`, which it pinned whole (locking the areas
    /// if `lock`).
    fn unpin_range(&mut self, range: IovaRange, lock: bool) {
        let (_, res) = self.walk(range, |area, first, last| {
            area.pages
                .remove_users(area.index_of(first), area.index_of(last));
            if area.num_accesses == 0 || (lock && area.num_locks == 0) {
                kernel::warn_on!(true);
            } else {
                area.num_accesses -= 1;
                area.num_locks -= u32::from(lock);
            }
            Ok(())
        });
        // An access unpins only what it pinned, which unmap cannot remove meanwhile.
        kernel::warn_on!(res.is_err());
    }
}
