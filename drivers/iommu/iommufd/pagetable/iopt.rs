// SPDX-License-Identifier: GPL-2.0

//! The IO page table of an IOAS: its mappings and its IOVA space.
//!
//! # Data
//!
//! - `areas`: the mappings ([`Area`]), by last IOVA. Each points into a [`Pages`].
//! - `reserved`: IOVA no mapping may use. The system layer fills it (reserved regions of
//!   attached devices, MSI windows); `IOMMU_IOAS_IOVA_RANGES` reports its holes.
//! - `allowed`: if not empty, the only IOVA the kernel may choose for a mapping
//!   (`IOMMU_IOAS_ALLOW_IOVAS`). A fixed IOVA given by the user is not restricted by it.
//! - `iova_alignment`: the alignment every mapping's IOVA and length need. 1 for a table
//!   with no hardware domain, as in C: software users accept any `size_t` IOVA.
//! - `large_pages`: `IOMMU_OPTION_HUGE_PAGES`.
//!
//! # Locking
//!
//! Two locks, taken in this order (as C's `domains_rwsem` and `iova_rwsem`):
//!
//! 1. `domains`, a read-write semaphore over the hardware page tables the table fills
//!    ([`super::domains`]). Maps and unmaps hold it for reading while they fill or empty
//!    those tables, so any number of them run at once; adding or removing a domain, and
//!    turning huge pages off, hold it for writing, and so find no fill under way.
//! 2. `state`, a mutex over everything else, the areas first. It is held only to look at
//!    or change the tree, never across pinning or `iommu_map`/`iommu_unmap`: an in-kernel
//!    access's copy, a dirty-bit read or a map of other IOVA waits for a tree update, not
//!    for another map's pinning. User memory may be copied under it: it is never taken by
//!    page fault handling.
//!
//! A map inserts its areas `busy` ([`Area::busy`]) under `state`, fills the domains with
//! only `domains` held, and clears `busy` under `state` again (or, on error, empties the
//! domains and removes the areas). An unmap marks the area `busy` under `state`, empties the
//! domains with only `domains` held, and removes it under `state`. A `busy` area holds its
//! IOVA (no other map may take it) but is invisible otherwise: an unmap or a cut of it
//! fails with `EBUSY`, an access or a copy finds nothing mapped there (`ENOENT`), as in C.
//! So a range a map is building is not seen until it is complete, and an unmap never races
//! a fill of the same range. Areas are `busy` only while their map or unmap holds
//! `domains`, so a writer of `domains` never sees one.

use kernel::{
    alloc::flags::GFP_KERNEL_ACCOUNT,
    new_mutex, new_rwsem,
    page::PAGE_SIZE,
    prelude::*,
    rbtree::{RBTree, RBTreeNodeReservation},
    sync::{Arc, Mutex, RwSemaphore},
};

use super::{
    access::AccessEntry,
    area::{first_in, with_first_in, Area, AreaTree, Prot},
    domains::{fill_area, unfill_area, DomainEntry},
    iova::{IovaRange, IovaSet},
    pages::Pages,
};

/// What an [`IoPageTable`] protects with its mutex.
pub(crate) struct IoptState {
    /// The mappings.
    pub(crate) areas: AreaTree,
    /// IOVA no mapping may use.
    pub(crate) reserved: IovaSet,
    /// IOVA the kernel may choose from; everything if empty.
    pub(crate) allowed: IovaSet,
    /// Required alignment of a mapping's IOVA and length.
    pub(crate) iova_alignment: u64,
    /// Whether mappings may use huge IOPTEs.
    pub(crate) large_pages: bool,
    /// The in-kernel accesses attached ([`super::access`]).
    pub(crate) accesses: KVec<AccessEntry>,
    /// Reservations made for their own sake (`IOMMU_TEST_OP_ADD_RESERVED`); `reserved` is
    /// these, the devices' reserved regions and the domains' out-of-aperture IOVA.
    pub(crate) reserved_fixed: IovaSet,
    /// The reserved regions of the devices attached through a HWPT of this IOAS, by device
    /// id (the system layer's data, kept here: C's reserved ranges owned by a device).
    pub(crate) reserved_dev: KVec<(u32, IovaRange)>,
    /// What the domains constrain, copied from [`IoPageTable::domains`] when one is added
    /// or removed (under both locks).
    pub(crate) domain_limits: DomainLimits,
}

/// What the domains of a table ask of its mappings, kept in [`IoptState`] so that the
/// checks under `state` alone see it.
pub(crate) struct DomainLimits {
    /// How many domains there are.
    pub(crate) count: usize,
    /// The largest of their smallest page sizes (1 without domains).
    pub(crate) alignment: u64,
    /// The IOVA outside their apertures.
    pub(crate) outside: KVec<IovaRange>,
}

/// The IO page table of one IOAS.
///
/// # Locking
///
/// `domains` is taken before `state` (the module documentation explains both).
#[pin_data]
pub(crate) struct IoPageTable {
    /// The hardware page tables filled from the mappings ([`super::domains`]).
    #[pin]
    pub(crate) domains: RwSemaphore<KVec<DomainEntry>>,
    /// The mappings and the IOVA space.
    #[pin]
    pub(crate) state: Mutex<IoptState>,
}

/// The whole IOVA space: the uAPI uses `u64`, the kernel's IOVA is an `unsigned long`.
pub(crate) const IOVA_SPACE: IovaRange = IovaRange {
    start: 0,
    last: usize::MAX as u64,
};

/// The largest alignment the allocator keeps from a user address: a huge page.
#[cfg(CONFIG_TRANSPARENT_HUGEPAGE)]
const MAX_ALIGNMENT: u64 = kernel::page::HPAGE_SIZE as u64;
#[cfg(not(CONFIG_TRANSPARENT_HUGEPAGE))]
const MAX_ALIGNMENT: u64 = PAGE_SIZE as u64;

/// A slice of a [`Pages`] to map: `length` bytes from `start_byte`.
pub(crate) struct PagesSlice {
    /// The memory.
    pub(crate) pages: Arc<Pages>,
    /// First byte, from the start of the first page of `pages`.
    pub(crate) start_byte: usize,
    /// Bytes.
    pub(crate) length: usize,
}

/// A slice to map, with the tree node its area will take.
pub(crate) struct MapPiece {
    /// The memory.
    pub(crate) slice: PagesSlice,
    /// The node, allocated in advance; taken by [`IoPageTable::map`].
    node: Option<RBTreeNodeReservation<u64, Area>>,
}

impl MapPiece {
    /// Allocates the node for mapping `slice`.
    ///
    /// # Errors
    ///
    /// `ENOMEM`.
    pub(crate) fn new(slice: PagesSlice) -> Result<Self> {
        Ok(Self {
            slice,
            node: Some(RBTreeNodeReservation::new(GFP_KERNEL_ACCOUNT)?),
        })
    }
}

impl MapPiece {
    /// The area this piece maps at `iova` (the one [`IoPageTable::map`] inserts), for
    /// filling the domains without the table's lock.
    fn area(&self, iova: u64, prot: Prot) -> Area {
        Area::new(iova, self.slice.pages.clone(), self.slice.start_byte, prot)
    }
}

/// Each of `pieces` with the first and last IOVA it maps when they are mapped one after the
/// other from `iova` (ranges [`IoptState::insert_pieces`] checked).
fn placed(pieces: &[MapPiece], iova: u64) -> impl Iterator<Item = (&MapPiece, u64, u64)> {
    pieces.iter().scan(iova, |next, piece| {
        let start = *next;
        let last = start + (piece.slice.length as u64 - 1);
        *next = last.wrapping_add(1);
        Some((piece, start, last))
    })
}

impl IoptState {
    /// Inserts the areas of `pieces` from the IOVA `at` chooses (`busy` if `busy`); returns
    /// that IOVA. The first half of [`IoPageTable::map`].
    ///
    /// # Errors
    ///
    /// As [`IoPageTable::map`]; nothing is inserted on error.
    fn insert_pieces(
        &mut self,
        pieces: &mut [MapPiece],
        length: u64,
        at: IovaChoice,
        prot: Prot,
        busy: bool,
    ) -> Result<u64> {
        if length == 0 || length & (self.iova_alignment - 1) != 0 {
            return Err(EINVAL);
        }
        let iova = match at {
            IovaChoice::Alloc(addr) => self.alloc_iova(addr, length)?,
            IovaChoice::Fixed(iova) => {
                // As C's `iopt_check_iova`: the alignment first, then the overflow.
                if iova & (self.iova_alignment - 1) != 0 {
                    return Err(EINVAL);
                }
                self.check_iova(range_of(iova, length)?)?;
                iova
            }
        };
        // Check every piece before inserting any.
        let mut next = iova;
        for piece in pieces.iter() {
            let slice = &piece.slice;
            if piece.node.is_none() {
                return Err(EINVAL);
            }
            if prot.write && !slice.pages.writable() {
                return Err(EPERM);
            }
            if (slice.start_byte % PAGE_SIZE) as u64 & (self.iova_alignment - 1) != 0 {
                return Err(EINVAL);
            }
            let range = range_of(next, slice.length as u64)?;
            next = range.last.wrapping_add(1);
        }
        // Nothing below fails: every piece has its node and its range was checked above.
        let mut next = iova;
        for piece in pieces.iter_mut() {
            let Some(node) = piece.node.take() else {
                return Err(EINVAL);
            };
            let range = range_of(next, piece.slice.length as u64)?;
            let mut area = piece.area(range.start, prot);
            area.busy = busy;
            self.areas.insert(node.into_node(range.last, area));
            next = range.last.wrapping_add(1);
        }
        Ok(iova)
    }
}

/// Where a new mapping goes.
#[derive(Copy, Clone)]
pub(crate) enum IovaChoice {
    /// At this IOVA.
    Fixed(u64),
    /// Wherever the allocator finds room, keeping the alignment of this address.
    Alloc(usize),
}

/// `[start, start + length - 1]`, or `EOVERFLOW`.
fn range_of(start: u64, length: u64) -> Result<IovaRange> {
    let last = start.checked_add(length - 1).ok_or(EOVERFLOW)?;
    Ok(IovaRange { start, last })
}

impl IoptState {
    /// An empty table's state.
    fn new() -> Self {
        IoptState {
            areas: RBTree::new(),
            reserved: IovaSet::new(),
            allowed: IovaSet::new(),
            iova_alignment: 1,
            large_pages: true,
            accesses: KVec::new(),
            reserved_fixed: IovaSet::new(),
            reserved_dev: KVec::new(),
            domain_limits: DomainLimits {
                count: 0,
                alignment: 1,
                outside: KVec::new(),
            },
        }
    }

    /// Checks that a mapping may be placed at `range`.
    ///
    /// # Errors
    ///
    /// `EINVAL` if misaligned or reserved, `EEXIST` if something is mapped there.
    fn check_iova(&self, range: IovaRange) -> Result {
        if range.start & (self.iova_alignment - 1) != 0 || self.reserved.intersects(range) {
            return Err(EINVAL);
        }
        if first_in(&self.areas, range).is_some() {
            return Err(EEXIST);
        }
        Ok(())
    }

    /// The first IOVA at or after `from` and at most `upto` that no area or reserved range
    /// covers, and the last IOVA of the hole it starts.
    fn next_hole(&self, mut from: u64, upto: u64) -> Option<IovaRange> {
        loop {
            if from > upto {
                return None;
            }
            let probe = IovaRange {
                start: from,
                last: from,
            };
            if let Some(area) = first_in(&self.areas, probe) {
                from = area.last.checked_add(1)?;
                continue;
            }
            if let Some(r) = self.reserved.containing(from) {
                from = r.last.checked_add(1)?;
                continue;
            }
            break;
        }
        let mut last = upto;
        let ahead = IovaRange {
            start: from,
            last: upto,
        };
        if let Some(area) = first_in(&self.areas, ahead) {
            last = last.min(area.start - 1);
        }
        if let Some(r) = self.reserved.first_in(ahead) {
            last = last.min(r.start - 1);
        }
        Some(IovaRange { start: from, last })
    }

    /// Chooses an IOVA for `length` bytes of memory at user address `addr`.
    ///
    /// The IOVA keeps `addr`'s alignment up to a huge page (so a THP can be mapped with a
    /// huge IOPTE), and its offset in the page. IOVA 0 is never chosen.
    ///
    /// # Errors
    ///
    /// `EOVERFLOW` for a zero or huge length, `EINVAL` if the table needs more alignment
    /// than `addr` has, `ENOSPC` if there is no room.
    fn alloc_iova(&self, addr: usize, length: u64) -> Result<u64> {
        if length == 0 || length >= usize::MAX as u64 / 2 {
            return Err(EOVERFLOW);
        }
        let page_offset = (addr % PAGE_SIZE) as u64;
        let mut alignment = length.next_power_of_two();
        if addr != 0 {
            alignment = alignment.min(1u64 << (addr as u64).trailing_zeros());
        }
        alignment = alignment.min(MAX_ALIGNMENT);
        if alignment < self.iova_alignment {
            return Err(EINVAL);
        }
        // Align `start` up, add the page offset, and check that the range fits in `last`.
        let fit = |start: u64, last: u64| -> Option<u64> {
            let aligned = (start.checked_add(alignment - 1)? & !(alignment - 1)) | page_offset;
            (aligned < last && last - aligned >= length - 1).then_some(aligned)
        };
        let span = IovaRange {
            start: PAGE_SIZE as u64,
            last: usize::MAX as u64 - PAGE_SIZE as u64,
        };
        let mut allowed = self.allowed.spans_within(span);
        let whole = [span];
        let spans: &mut dyn Iterator<Item = IovaRange> = if self.allowed.is_empty() {
            &mut whole.iter().copied()
        } else {
            &mut allowed
        };
        for span in spans {
            let Some(start) = fit(span.start, span.last) else {
                continue;
            };
            let mut from = start;
            while let Some(hole) = self.next_hole(from, span.last) {
                if let Some(iova) = fit(hole.start, hole.last) {
                    return Ok(iova);
                }
                match hole.last.checked_add(1) {
                    Some(next) => from = next,
                    None => break,
                }
            }
        }
        Err(ENOSPC)
    }
}

impl IoPageTable {
    /// An empty table: no mappings, nothing reserved, everything allowed.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            domains <- new_rwsem!(KVec::new()),
            state <- new_mutex!(IoptState::new()),
        })
    }

    /// Whether mappings may use huge IOPTEs.
    pub(crate) fn large_pages(&self) -> bool {
        self.state.lock().large_pages
    }

    /// Allows or forbids huge IOPTEs for mappings (`IOMMU_OPTION_HUGE_PAGES`). Without
    /// them every CPU page is mapped on its own, and mappings must be page aligned.
    ///
    /// # Errors
    ///
    /// `EINVAL` to forbid them while domains hold mappings (those are already mapped with
    /// huge IOPTEs); `EADDRINUSE` if a mapping is not page aligned.
    pub(crate) fn set_large_pages(&self, enable: bool) -> Result {
        // No fill runs meanwhile: they read `large_pages` once, before filling.
        let _domains = self.domains.write();
        let mut state = self.state.lock();
        if state.large_pages == enable {
            return Ok(());
        }
        if !enable {
            if state.domain_limits.count != 0 && !state.areas.is_empty() {
                return Err(EINVAL);
            }
            if !state.areas_aligned(PAGE_SIZE as u64) {
                return Err(EADDRINUSE);
            }
        }
        state.large_pages = enable;
        state.iova_alignment = state.needed_alignment();
        Ok(())
    }

    /// Maps `pieces`, one after the other, from the IOVA `at` chooses; returns that IOVA.
    ///
    /// `length` is the sum of the slices' lengths. Each piece comes with the tree node it
    /// will need ([`MapPiece::new`]), so that nothing is allocated under the lock and nothing
    /// fails after the first insert.
    ///
    /// # Errors
    ///
    /// `EINVAL` for a zero or misaligned length or IOVA, or a reserved IOVA; `EEXIST` if
    /// something is mapped there; `EPERM` for a writeable mapping of read-only memory;
    /// `EOVERFLOW`; `ENOSPC` when no IOVA is free. Nothing is mapped on error.
    pub(crate) fn map(
        &self,
        pieces: &mut [MapPiece],
        length: u64,
        at: IovaChoice,
        prot: Prot,
    ) -> Result<u64> {
        let domains = self.domains.read();
        // Without domains there is nothing to fill: the areas are ready when inserted (no
        // domain can come meanwhile, `domains` is held).
        let fill = !domains.is_empty();
        let (iova, large) = {
            let mut state = self.state.lock();
            let iova = state.insert_pieces(pieces, length, at, prot, fill)?;
            (iova, state.large_pages)
        };
        if !fill {
            return Ok(iova);
        }
        // Pin the new areas and map them into the domains, without `state`: the areas are
        // busy, so nothing else uses, cuts or removes them meanwhile.
        let mut failed = None;
        for (k, (piece, start, last)) in placed(pieces, iova).enumerate() {
            if let Err(e) = fill_area(&domains, &piece.area(start, prot), last, large) {
                failed = Some((k, e));
                break;
            }
        }
        if let Some((nfilled, _)) = failed {
            for (piece, start, last) in placed(pieces, iova).take(nfilled) {
                unfill_area(&domains, &piece.area(start, prot), last);
            }
        }
        // Publish the areas, or take them out.
        let mut state = self.state.lock();
        for (_, _, last) in placed(pieces, iova) {
            if failed.is_some() {
                kernel::warn_on!(state.areas.remove(&last).is_none());
            } else if let Some(area) = state.areas.get_mut(&last) {
                area.busy = false;
            } else {
                kernel::warn_on!(true);
            }
        }
        drop(state);
        match failed {
            Some((_, e)) => Err(e),
            None => Ok(iova),
        }
    }

    /// Unmaps every area inside `range`; returns the bytes unmapped.
    ///
    /// Areas are unmapped in IOVA order. An area that `range` only partly covers cannot be
    /// split: the walk stops there with `ENOENT`, and the areas before it stay unmapped, as
    /// in C.
    ///
    /// # Errors
    ///
    /// As [`IoPageTable::unmap_counted`].
    pub(crate) fn unmap(&self, range: IovaRange) -> Result<u64> {
        let mut unmapped = 0;
        self.unmap_counted(range, &mut unmapped)?;
        Ok(unmapped)
    }

    /// Unmaps as [`IoPageTable::unmap`] does, and sets `unmapped` to the bytes unmapped,
    /// also on error (the areas before the one that failed), as C's `iopt_unmap_iova`.
    ///
    /// # Errors
    ///
    /// `EBUSY` at an area an internal access holds locked (checked first, as in C);
    /// `ENOENT` at an area that is only partly inside `range`; `EDEADLK` if accesses do
    /// not let go of an area.
    pub(crate) fn unmap_counted(&self, range: IovaRange, unmapped: &mut u64) -> Result {
        *unmapped = 0;
        let mut start = range.start;
        let mut tries = 0u32;
        loop {
            let domains = self.domains.read();
            let mut state = self.state.lock();
            let busy = loop {
                // The first area that ends at or after `start`.
                let Some(mut cursor) = state.areas.cursor_lower_bound_mut(&start) else {
                    return Ok(());
                };
                let (&last, area) = cursor.current_mut();
                if area.iova > range.last {
                    return Ok(());
                }
                if area.busy {
                    // Being filled or emptied: user space raced a map or unmap of it.
                    return Err(EBUSY);
                }
                if area.num_locks != 0 {
                    // An internal access holds pins nobody can ask it to drop.
                    return Err(EBUSY);
                }
                if area.iova < range.start || last > range.last {
                    return Err(ENOENT);
                }
                if area.iova != start {
                    tries = 0;
                }
                if area.num_accesses != 0 {
                    // Accesses hold pins in the area: refuse new ones and ask them to let go,
                    // without the locks, then look again.
                    area.prevent_access = true;
                    start = area.iova;
                    break IovaRange {
                        start: area.iova,
                        last,
                    };
                }
                let length = last - area.iova + 1;
                if !domains.is_empty() {
                    // Empty the domains without `state`; the area keeps its IOVA meanwhile.
                    area.busy = true;
                    let detached = area.detached();
                    drop(state);
                    unfill_area(&domains, &detached, last);
                    drop(detached);
                    state = self.state.lock();
                }
                // The area (and, with its last user, its `Pages`) is freed here.
                kernel::warn_on!(state.areas.remove(&last).is_none());
                *unmapped += length;
                // A map may have taken IOVA before `last` meanwhile: go on after it only.
                match last.checked_add(1) {
                    Some(next) if next <= range.last => start = next,
                    _ => return Ok(()),
                }
            };
            drop(state);
            drop(domains);
            self.notify_unmap(busy);
            tries += 1;
            if tries > 100 {
                // Something does not respond to unmap requests.
                kernel::warn_on!(true);
                return Err(EDEADLK);
            }
        }
    }

    /// The IOVA `offset` bytes into the `nth` area (from 0, in IOVA order), or 0 if there
    /// are not that many: how syzkaller names IOVAs it cannot know (the test command's
    /// `MOCK_FLAGS_ACCESS_SYZ`, C's `__iommufd_test_syz_conv_iova`).
    pub(crate) fn nth_area_iova(&self, nth: u32, offset: u32) -> u64 {
        let state = self.state.lock();
        let iova = state
            .areas
            .values()
            .nth(nth as usize)
            .map_or(0, |area| area.iova.wrapping_add(u64::from(offset)));
        iova
    }

    /// Cuts the mappings at each IOVA of `at`: the area holding `iova` becomes two, one
    /// ending at `iova` and one starting after it (C's `iopt_cut_iova`), so that the VFIO
    /// type1 emulation may unmap inside a mapping. An IOVA that ends an area, or is not
    /// mapped, needs no cut.
    ///
    /// # Errors
    ///
    /// `EINVAL` if a cut is not aligned to the IOVA alignment (in the IOVA or in the
    /// memory), if domains hold the area with huge IOPTEs allowed (they cannot be split), or
    /// if an access pins pages in it; `EOPNOTSUPP` for a dma-buf's area (its domain
    /// mappings are tracked whole, as C refuses); `EBUSY` while an unmap waits for it or a
    /// map or unmap of it is under way; `ENOMEM`. Cuts made before the error stay, as in C;
    /// each leaves a valid table.
    pub(crate) fn cut(&self, at: &[u64]) -> Result {
        let mut guard = self.state.lock();
        let state = &mut *guard;
        for &iova in at {
            let probe = IovaRange {
                start: iova,
                last: iova,
            };
            let Some(last) = with_first_in(&state.areas, probe, |last, _| last) else {
                continue;
            };
            if last == iova {
                continue;
            }
            let new_start = iova + 1;
            let align = state.iova_alignment;
            let lhs = {
                let Some(area) = state.areas.get(&last) else {
                    return Err(EINVAL);
                };
                if area.prevent_access || area.busy {
                    return Err(EBUSY);
                }
                if area.pages.dmabuf().is_some() {
                    // Its domain mappings are tracked whole, per area (as C refuses).
                    return Err(EOPNOTSUPP);
                }
                if new_start & (align - 1) != 0 || area.byte_of(new_start) as u64 & (align - 1) != 0
                {
                    return Err(EINVAL);
                }
                let domains = state.domain_limits.count != 0;
                if area.num_accesses != 0 || (domains && state.large_pages) {
                    return Err(EINVAL);
                }
                let node = RBTreeNodeReservation::new(GFP_KERNEL_ACCOUNT)?;
                if domains {
                    // The halves will drop their users separately.
                    area.pages.split_runs(area.byte_of(new_start) / PAGE_SIZE)?;
                }
                node.into_node(iova, area.detached())
            };
            // Nothing below fails: the right half keeps the node (and key) of the area.
            if let Some(area) = state.areas.get_mut(&last) {
                area.start_byte = area.byte_of(new_start);
                area.iova = new_start;
            }
            state.areas.insert(lhs);
        }
        Ok(())
    }

    /// The memory mapped at `range`, which must be mapped without a gap, as pieces ready to
    /// be mapped elsewhere ([`IoPageTable::map`]).
    ///
    /// # Errors
    ///
    /// `ENOENT` if some IOVA of `range` is not mapped, `ENOMEM`.
    pub(crate) fn slices(&self, range: IovaRange) -> Result<KVec<MapPiece>> {
        let mut slices = KVec::new();
        let state = self.state.lock();
        let mut cur = range.start;
        loop {
            let probe = IovaRange {
                start: cur,
                last: cur,
            };
            let (upto, slice) = with_first_in(&state.areas, probe, |last, area| {
                // An area being built or torn down is not there yet, or any more.
                if area.busy {
                    return None;
                }
                let upto = last.min(range.last);
                let slice = PagesSlice {
                    pages: area.pages.clone(),
                    start_byte: area.start_byte + (cur - area.iova) as usize,
                    length: (upto - cur + 1) as usize,
                };
                Some((upto, slice))
            })
            .flatten()
            .ok_or(ENOENT)?;
            slices.push(MapPiece::new(slice)?, GFP_KERNEL_ACCOUNT)?;
            if upto == range.last {
                return Ok(slices);
            }
            cur = upto + 1;
        }
    }

    /// Adds the `Pages` of every mapping to `out`.
    ///
    /// # Errors
    ///
    /// `EINVAL` if a mapping is not of a file (`IOMMU_IOAS_CHANGE_PROCESS` moves only
    /// those), `ENOMEM`.
    pub(crate) fn file_pages(&self, out: &mut KVec<Arc<Pages>>) -> Result {
        let state = self.state.lock();
        for area in state.areas.values() {
            if area.busy {
                return Err(EBUSY);
            }
            if !area.pages.is_file() {
                return Err(EINVAL);
            }
            out.push(area.pages.clone(), GFP_KERNEL_ACCOUNT)?;
        }
        Ok(())
    }

    /// Reserves `range`: no mapping may use it (a device's reserved region; the test
    /// command's `IOMMU_TEST_OP_ADD_RESERVED`).
    ///
    /// # Errors
    ///
    /// `EADDRINUSE` if something is mapped there or the range is allowed, `ENOMEM`.
    #[cfg_attr(not(CONFIG_IOMMUFD_TEST), expect(dead_code))]
    pub(crate) fn reserve(&self, range: IovaRange) -> Result {
        let mut state = self.state.lock();
        if first_in(&state.areas, range).is_some() || state.allowed.intersects(range) {
            return Err(EADDRINUSE);
        }
        state.reserved.insert(range)?;
        // On error `reserved` keeps the range until it is next rebuilt: it only refuses IOVA.
        state.reserved_fixed.insert(range)
    }

    /// Reserves `ranges`, the reserved regions of the device `dev_id`, which attaches
    /// through a HWPT of this IOAS (C's `iopt_table_enforce_dev_resv_regions()`).
    ///
    /// # Errors
    ///
    /// `EADDRINUSE` if something is mapped in one or it is allowed, `ENOMEM`; nothing is
    /// reserved then.
    pub(crate) fn reserve_dev(&self, dev_id: u32, ranges: &[IovaRange]) -> Result {
        let mut state = self.state.lock();
        for &range in ranges {
            if first_in(&state.areas, range).is_some() || state.allowed.intersects(range) {
                return Err(EADDRINUSE);
            }
        }
        state
            .reserved_dev
            .reserve(ranges.len(), GFP_KERNEL_ACCOUNT)?;
        for &range in ranges {
            // Room was reserved above.
            let _ = state.reserved_dev.push_within_capacity((dev_id, range));
        }
        if let Err(e) = state.rebuild_reserved() {
            state.reserved_dev.retain(|(id, _)| *id != dev_id);
            return Err(e);
        }
        Ok(())
    }

    /// Drops the reservations of the device `dev_id` (C's `iopt_remove_reserved_iova()`).
    pub(crate) fn unreserve_dev(&self, dev_id: u32) {
        let mut state = self.state.lock();
        let before = state.reserved_dev.len();
        state.reserved_dev.retain(|(id, _)| *id != dev_id);
        if state.reserved_dev.len() != before && state.rebuild_reserved().is_err() {
            // Out of memory: the regions stay reserved, which only refuses IOVA.
            pr_warn!("reserved regions of a detached device stay reserved (no memory)\n");
        }
    }

    /// Replaces the allowed IOVA (`IOMMU_IOAS_ALLOW_IOVAS`).
    ///
    /// # Errors
    ///
    /// `EADDRINUSE` if an allowed range intersects a reserved one; the old set then stays.
    pub(crate) fn set_allowed(&self, allowed: IovaSet) -> Result {
        let mut state = self.state.lock();
        if allowed.iter().any(|r| state.reserved.intersects(*r)) {
            return Err(EADDRINUSE);
        }
        state.allowed = allowed;
        Ok(())
    }
}

#[kunit_tests(iommufd_iova_alloc)]
mod tests {
    use super::*;

    fn state() -> IoptState {
        IoptState::new()
    }

    fn r(start: u64, last: u64) -> IovaRange {
        IovaRange { start, last }
    }

    /// The CPU's page size: 4 KiB, or 16 or 64 KiB on arm64.
    const P: u64 = PAGE_SIZE as u64;

    #[test]
    fn keeps_the_alignment_of_the_address() -> Result {
        let s = state();
        // 4 MiB at a 2 MiB aligned address: 2 MiB aligned, never IOVA 0.
        assert_eq!(s.alloc_iova(0x4020_0000, 0x40_0000)?, 0x20_0000);
        // One page at a page-aligned address: the first page after 0.
        assert_eq!(s.alloc_iova(7 * P as usize, P)?, P);
        // The offset in the page is kept.
        assert_eq!(s.alloc_iova(7 * P as usize + 0x123, 0x100)? % P, 0x123);
        Ok(())
    }

    #[test]
    fn skips_reserved_ranges() -> Result {
        let mut s = state();
        s.reserved.insert(r(0, 0x3f_ffff))?;
        assert_eq!(s.alloc_iova(0x20_0000, 0x20_0000)?, 0x40_0000);
        assert_eq!(s.next_hole(0, 0x50_0000), Some(r(0x40_0000, 0x50_0000)));
        Ok(())
    }

    #[test]
    fn stays_in_allowed_ranges() -> Result {
        let mut s = state();
        s.allowed.insert(r(0x1000_0000, 0x1fff_ffff))?;
        assert_eq!(s.alloc_iova(0x20_0000, 0x20_0000)?, 0x1000_0000);
        assert_eq!(s.alloc_iova(0x20_0000, 0x2000_0000), Err(ENOSPC));
        // One page left at the top of the allowed range.
        s.reserved.insert(r(0x1000_0000, 0x2000_0000 - P - 1))?;
        assert_eq!(s.alloc_iova(P as usize, P)?, 0x2000_0000 - P);
        assert_eq!(s.alloc_iova(P as usize, 2 * P), Err(ENOSPC));
        Ok(())
    }

    #[test]
    fn refuses_bad_lengths_and_alignment() {
        let mut s = state();
        assert_eq!(s.alloc_iova(P as usize, 0), Err(EOVERFLOW));
        assert_eq!(s.alloc_iova(P as usize, u64::MAX / 2), Err(EOVERFLOW));
        // A page-aligned page where the table needs two pages of alignment.
        s.iova_alignment = 2 * P;
        assert_eq!(s.alloc_iova(P as usize, P), Err(EINVAL));
    }
}
