// SPDX-License-Identifier: GPL-2.0

//! Sets of IOVA ranges.
//!
//! Ranges are inclusive (`[start, last]`), as in the uAPI, so that the whole 64-bit space is
//! representable.

use kernel::prelude::*;

/// An inclusive range of IOVA.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct IovaRange {
    /// The first IOVA.
    pub(crate) start: u64,
    /// The last IOVA (inclusive).
    pub(crate) last: u64,
}

impl IovaRange {
    /// `[start, last]`, or `None` if `start > last`.
    pub(crate) fn new(start: u64, last: u64) -> Option<Self> {
        (start <= last).then_some(Self { start, last })
    }
}

/// A set of IOVA, kept as sorted, disjoint, non-adjacent ranges.
///
/// Sets are small (reserved regions of a few devices), so a sorted vector beats a tree.
pub(crate) struct IovaSet {
    ranges: KVec<IovaRange>,
}

impl IovaSet {
    /// The empty set.
    pub(crate) const fn new() -> Self {
        Self {
            ranges: KVec::new(),
        }
    }

    /// Whether the set holds no IOVA.
    pub(crate) fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Adds `range`, merging it with the ranges it overlaps or touches.
    ///
    /// # Errors
    ///
    /// `ENOMEM`; the set is then unchanged.
    pub(crate) fn insert(&mut self, range: IovaRange) -> Result {
        // The first range that ends at or after `range.start - 1` (touching counts).
        let first = self
            .ranges
            .iter()
            .position(|r| r.last >= range.start.saturating_sub(1))
            .unwrap_or(self.ranges.len());
        // One past the last range that starts at or before `range.last + 1`.
        let end = self.ranges[first..]
            .iter()
            .position(|r| r.start > range.last.saturating_add(1))
            .map_or(self.ranges.len(), |p| first + p);
        if first == end {
            self.ranges.reserve(1, GFP_KERNEL_ACCOUNT)?;
            self.ranges
                .insert_within_capacity(first, range)
                .map_err(|_| ENOMEM)?;
            return Ok(());
        }
        let merged = IovaRange {
            start: range.start.min(self.ranges[first].start),
            last: range.last.max(self.ranges[end - 1].last),
        };
        self.ranges[first] = merged;
        for _ in first + 1..end {
            self.ranges.remove(first + 1).map_err(|_| EINVAL)?;
        }
        Ok(())
    }

    /// Whether any IOVA of `range` is in the set.
    pub(crate) fn intersects(&self, range: IovaRange) -> bool {
        self.ranges
            .iter()
            .any(|r| r.start <= range.last && range.start <= r.last)
    }

    /// The ranges of the set, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &IovaRange> {
        self.ranges.iter()
    }

    /// The range of the set that holds `iova`.
    pub(crate) fn containing(&self, iova: u64) -> Option<IovaRange> {
        self.ranges
            .iter()
            .find(|r| r.start <= iova && iova <= r.last)
            .copied()
    }

    /// The first range of the set that intersects `range`.
    pub(crate) fn first_in(&self, range: IovaRange) -> Option<IovaRange> {
        self.ranges
            .iter()
            .find(|r| r.start <= range.last && range.start <= r.last)
            .copied()
    }

    /// The ranges of the set, clipped to `within`, in order.
    pub(crate) fn spans_within(&self, within: IovaRange) -> impl Iterator<Item = IovaRange> + '_ {
        self.ranges
            .iter()
            .filter_map(move |r| IovaRange::new(r.start.max(within.start), r.last.min(within.last)))
    }

    /// The gaps of the set within `within`, in order.
    pub(crate) fn holes(&self, within: IovaRange) -> Holes<'_> {
        Holes {
            ranges: &self.ranges,
            next: Some(within.start),
            last: within.last,
            idx: 0,
        }
    }
}

/// Iterator over the gaps of an [`IovaSet`] within a range.
pub(crate) struct Holes<'a> {
    ranges: &'a [IovaRange],
    /// The first IOVA not yet covered, `None` when done.
    next: Option<u64>,
    last: u64,
    idx: usize,
}

impl Iterator for Holes<'_> {
    type Item = IovaRange;

    fn next(&mut self) -> Option<IovaRange> {
        loop {
            let cur = self.next?;
            if cur > self.last {
                self.next = None;
                return None;
            }
            let Some(r) = self.ranges.get(self.idx) else {
                self.next = None;
                return Some(IovaRange {
                    start: cur,
                    last: self.last,
                });
            };
            self.idx += 1;
            if r.last < cur {
                continue;
            }
            self.next = r.last.checked_add(1);
            if r.start > cur {
                return Some(IovaRange {
                    start: cur,
                    last: (r.start - 1).min(self.last),
                });
            }
        }
    }
}

#[kunit_tests(iommufd_iova_set)]
mod tests {
    use super::*;

    fn r(start: u64, last: u64) -> IovaRange {
        IovaRange { start, last }
    }

    fn holes(set: &IovaSet) -> KVec<IovaRange> {
        let mut v = KVec::new();
        for h in set.holes(r(0, u64::MAX)) {
            v.push(h, GFP_KERNEL).unwrap();
        }
        v
    }

    #[test]
    fn empty_set_is_one_hole() {
        let set = IovaSet::new();
        assert!(set.is_empty());
        assert_eq!(&holes(&set)[..], &[r(0, u64::MAX)]);
    }

    #[test]
    fn insert_merges_overlapping_and_adjacent() -> Result {
        let mut set = IovaSet::new();
        set.insert(r(0x1000, 0x1fff))?;
        set.insert(r(0x4000, 0x4fff))?;
        set.insert(r(0x2000, 0x2fff))?; // touches the first
        assert_eq!(&set.ranges[..], &[r(0x1000, 0x2fff), r(0x4000, 0x4fff)]);
        set.insert(r(0x2800, 0x4800))?; // bridges both
        assert_eq!(&set.ranges[..], &[r(0x1000, 0x4fff)]);
        set.insert(r(0, 0))?;
        assert_eq!(&set.ranges[..], &[r(0, 0), r(0x1000, 0x4fff)]);
        Ok(())
    }

    #[test]
    fn holes_cover_the_complement() -> Result {
        let mut set = IovaSet::new();
        set.insert(r(0, 0xfff))?;
        set.insert(r(0xfee0_0000, 0xfeef_ffff))?;
        set.insert(r(u64::MAX - 0xfff, u64::MAX))?;
        assert_eq!(
            &holes(&set)[..],
            &[r(0x1000, 0xfedf_ffff), r(0xfef0_0000, u64::MAX - 0x1000)]
        );
        Ok(())
    }

    #[test]
    fn holes_respect_the_window() -> Result {
        let mut set = IovaSet::new();
        set.insert(r(0x1000, 0x1fff))?;
        let v: KVec<_> = {
            let mut v = KVec::new();
            for h in set.holes(r(0x1800, 0x2800)) {
                v.push(h, GFP_KERNEL)?;
            }
            v
        };
        assert_eq!(&v[..], &[r(0x2000, 0x2800)]);
        assert!(set.intersects(r(0x1fff, 0x3000)));
        assert!(!set.intersects(r(0x2000, 0x3000)));
        Ok(())
    }

    #[test]
    fn full_space_has_no_hole() -> Result {
        let mut set = IovaSet::new();
        set.insert(r(0, u64::MAX))?;
        assert!(holes(&set).is_empty());
        assert!(IovaRange::new(2, 1).is_none());
        Ok(())
    }
}
