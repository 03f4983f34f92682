// SPDX-License-Identifier: GPL-2.0

//! The hardware page tables (iommu domains) an IO page table fills.
//!
//! A table keeps the domains of the HWPTs built on it. While it has at least one, every
//! area is *filled*: its pages hold one user for the area ([`super::pages::Pages::add_users`], which pins
//! and charges them) and each run of pinned pages is mapped into every domain, one
//! `iommu_map` per run, so a 2 MiB huge page is one call. The first domain pins; the
//! others only map the runs already pinned. Unmapping an area, or removing the last domain,
//! unmaps the runs and drops the area's user, which unpins pages nobody else uses.
//!
//! A domain also constrains the table: IOVA outside its aperture is reserved for as long as
//! it is attached, and mappings must be aligned to its smallest page size (`EADDRINUSE`
//! for existing ones that are not, as in C). The mock driver's 2 KiB pages make mappings
//! start in the middle of a CPU page: runs are mapped by byte, not by page.
//!
//! The domains are `IoPageTable::domains`: a map or an unmap fills or empties its own
//! (`busy`) areas holding it for reading, without `IoPageTable::state`; adding or removing a
//! domain holds it for writing and `state`, so that no area is `busy` and none changes
//! under the fill. What the domains constrain (their number, page size and apertures) is
//! copied into the state ([`DomainLimits`]) for the checks made under `state` alone.

use kernel::{
    alloc::flags::GFP_KERNEL_ACCOUNT,
    iommu::domain::{Domain, Prot as IoProt},
    page::PAGE_SIZE,
    prelude::*,
    sync::Arc,
};

use super::{
    area::{first_in, Area, Prot},
    iopt::{DomainLimits, IoPageTable, IoptState, IOVA_SPACE},
    iova::{IovaRange, IovaSet},
};

/// A domain an IO page table fills.
pub(crate) struct DomainEntry {
    /// The domain; its HWPT holds it too, and removes it before freeing it.
    pub(crate) domain: Arc<Domain>,
    /// IOVA the domain cannot translate, reserved while it is attached.
    outside: [Option<IovaRange>; 2],
}

/// The IOMMU access bits of an area. `IOMMU_CACHE` always: user space has no way to flush
/// caches, so bind only accepts devices whose IOMMU keeps DMA coherent, as in C.
fn io_prot(prot: Prot) -> IoProt {
    let mut p = IoProt::CACHE;
    if prot.read {
        p = p.with(IoProt::READ);
    }
    if prot.write {
        p = p.with(IoProt::WRITE);
    }
    p
}

/// The indexes of the first and last pages of `area`, whose last IOVA is `last`.
fn page_span(area: &Area, last: u64) -> (usize, usize) {
    let end = area.byte_of(last);
    (area.start_byte / PAGE_SIZE, end / PAGE_SIZE)
}

/// Maps the pinned pages of `area` into `domain`: each run with one `iommu_map`, or, without
/// `large` pages (`IOMMU_OPTION_HUGE_PAGES` off), each CPU page on its own, so that the
/// domain uses no IOPTE larger than a page.
///
/// # Errors
///
/// As `iommu_map` fails (`ENOMEM`); nothing stays mapped on error.
fn map_area(domain: &Arc<Domain>, area: &Area, last: u64, large: bool) -> Result {
    if let Some((import, start)) = area.pages.dmabuf() {
        // One physically contiguous range, tracked so that a revoke can unmap it; nothing
        // is mapped once revoked.
        let len = (last - area.iova + 1) as usize;
        return import.map(
            domain,
            area.iova as usize,
            start + area.start_byte as u64,
            len,
            io_prot(area.prot),
        );
    }
    let (first, lastp) = page_span(area, last);
    let start = area.start_byte;
    let end = area.byte_of(last) + 1;
    let prot = io_prot(area.prot);
    let mut mapped = 0usize;
    let mut result = Ok(());
    area.pages
        .for_each_pinned(first, lastp, |index, run, skip, count| {
            if result.is_err() {
                return;
            }
            // The bytes of the run that the area maps.
            let b0 = (index * PAGE_SIZE).max(start);
            let b1 = ((index + count) * PAGE_SIZE).min(end);
            let mut b = b0;
            while b < b1 && result.is_ok() {
                // The end of this call: the run's, or the CPU page's without large pages.
                let e = if large {
                    b1
                } else {
                    ((b / PAGE_SIZE + 1) * PAGE_SIZE).min(b1)
                };
                let iova = area.iova as usize + (b - start);
                let offset = (skip + b / PAGE_SIZE - index) * PAGE_SIZE + b % PAGE_SIZE;
                result = domain.map_pinned(iova, run, offset, e - b, prot, GFP_KERNEL_ACCOUNT);
                if result.is_ok() {
                    mapped += e - b;
                }
                b = e;
            }
        });
    if result.is_ok() && mapped != end - start {
        // A page of the area is not pinned: the caller pins before it maps.
        kernel::warn_on!(true);
        result = Err(EFAULT);
    }
    if result.is_err() && mapped != 0 {
        domain.unmap(area.iova as usize, mapped);
    }
    result
}

/// Unmaps `area` from `domain`.
fn unmap_area(domain: &Domain, area: &Area, last: u64) {
    if let Some((import, _)) = area.pages.dmabuf() {
        import.unmap(domain, area.iova as usize);
        return;
    }
    let length = (last - area.iova + 1) as usize;
    let done = domain.unmap(area.iova as usize, length);
    kernel::warn_on!(done != length);
}

/// Pins `area` and maps it into every domain of `domains`; nothing to do without domains.
///
/// # Errors
///
/// As [`super::pages::Pages::add_users`] (`ENOMEM`, also over `RLIMIT_MEMLOCK`; `EFAULT`)
/// and `iommu_map` fail. Nothing stays pinned or mapped on error.
pub(crate) fn fill_area(domains: &[DomainEntry], area: &Area, last: u64, large: bool) -> Result {
    if domains.is_empty() {
        return Ok(());
    }
    let (first, lastp) = page_span(area, last);
    area.pages.add_users(first, lastp)?;
    for (k, entry) in domains.iter().enumerate() {
        if let Err(e) = map_area(&entry.domain, area, last, large) {
            for done in &domains[..k] {
                unmap_area(&done.domain, area, last);
            }
            area.pages.remove_users(first, lastp);
            return Err(e);
        }
    }
    Ok(())
}

/// Undoes [`fill_area`].
pub(crate) fn unfill_area(domains: &[DomainEntry], area: &Area, last: u64) {
    if domains.is_empty() {
        return;
    }
    for entry in domains.iter() {
        unmap_area(&entry.domain, area, last);
    }
    let (first, lastp) = page_span(area, last);
    area.pages.remove_users(first, lastp);
}

impl IoptState {
    /// The alignment the domains and accesses need (and a CPU page without large pages).
    pub(crate) fn needed_alignment(&self) -> u64 {
        let base = if self.large_pages {
            1
        } else {
            PAGE_SIZE as u64
        };
        let domains = self.domain_limits.alignment.max(base);
        self.accesses
            .iter()
            .map(|a| a.alignment)
            .fold(domains, u64::max)
    }

    /// Rebuilds `reserved` from the fixed reservations, the devices' reserved regions and
    /// the domains' apertures.
    ///
    /// # Errors
    ///
    /// `ENOMEM`; `reserved` is then unchanged.
    pub(super) fn rebuild_reserved(&mut self) -> Result {
        let mut set = IovaSet::new();
        for r in self.reserved_fixed.iter() {
            set.insert(*r)?;
        }
        for (_, r) in self.reserved_dev.iter() {
            set.insert(*r)?;
        }
        for r in self.domain_limits.outside.iter() {
            set.insert(*r)?;
        }
        self.reserved = set;
        Ok(())
    }

    /// Copies what `domains` constrain into the state and rebuilds `reserved`.
    ///
    /// # Errors
    ///
    /// `ENOMEM`; the state is then unchanged.
    fn set_domains(&mut self, domains: &[DomainEntry]) -> Result {
        let mut outside = KVec::new();
        for r in domains.iter().flat_map(|d| d.outside.iter().flatten()) {
            outside.push(*r, GFP_KERNEL_ACCOUNT)?;
        }
        let limits = DomainLimits {
            count: domains.len(),
            alignment: domains
                .iter()
                .map(|d| min_page_size(&d.domain))
                .fold(1, u64::max),
            outside,
        };
        let old = core::mem::replace(&mut self.domain_limits, limits);
        if let Err(e) = self.rebuild_reserved() {
            self.domain_limits = old;
            return Err(e);
        }
        self.iova_alignment = self.needed_alignment();
        Ok(())
    }
}

/// The smallest page size of `domain`.
fn min_page_size(domain: &Domain) -> u64 {
    let bitmap = domain.pgsize_bitmap();
    if bitmap == 0 {
        PAGE_SIZE as u64
    } else {
        1u64 << bitmap.trailing_zeros()
    }
}

impl IoPageTable {
    /// Adds `domain` to the table and fills it with every mapping.
    ///
    /// # Errors
    ///
    /// `EINVAL` if the domain's smallest page is larger than a CPU page, `EADDRINUSE` if a
    /// mapping is outside its aperture or not aligned to its pages, `ENOMEM` (also over
    /// `RLIMIT_MEMLOCK` for the first domain, which pins), `EFAULT`. On error the table is
    /// unchanged.
    pub(crate) fn add_domain(&self, domain: &Arc<Domain>) -> Result {
        let mut domains = self.domains.write();
        let mut state = self.state.lock();
        if domains.iter().any(|d| Arc::ptr_eq(&d.domain, domain)) {
            kernel::warn_on!(true);
            return Err(EEXIST);
        }
        let page = min_page_size(domain);
        if page > PAGE_SIZE as u64 {
            return Err(EINVAL);
        }
        let alignment = page.max(state.iova_alignment);
        if alignment != state.iova_alignment && !state.areas_aligned(alignment) {
            return Err(EADDRINUSE);
        }
        let aperture = domain.aperture();
        let outside = [
            IovaRange::new(0, aperture.start.wrapping_sub(1)).filter(|_| aperture.start != 0),
            IovaRange::new(aperture.end.wrapping_add(1), IOVA_SPACE.last)
                .filter(|_| aperture.end < IOVA_SPACE.last),
        ];
        for r in outside.iter().flatten() {
            if first_in(&state.areas, *r).is_some() || state.allowed.intersects(*r) {
                return Err(EADDRINUSE);
            }
        }
        domains.reserve(1, GFP_KERNEL_ACCOUNT)?;
        let pins = domains.is_empty();
        let large = state.large_pages;
        // Fill the new domain alone first: on error only it is undone.
        let mut filled: Option<(u64, Result)> = None;
        for (&last, area) in state.areas.iter() {
            let r = (|| {
                if pins {
                    let (first, lastp) = page_span(area, last);
                    area.pages.add_users(first, lastp)?;
                    let r = map_area(domain, area, last, large);
                    if r.is_err() {
                        area.pages.remove_users(first, lastp);
                    }
                    r
                } else {
                    map_area(domain, area, last, large)
                }
            })();
            if let Err(e) = r {
                filled = Some((area.iova, Err(e)));
                break;
            }
        }
        if let Some((failed_at, Err(e))) = filled {
            for (&last, area) in state.areas.iter() {
                if area.iova >= failed_at {
                    break;
                }
                unmap_area(domain, area, last);
                if pins {
                    let (first, lastp) = page_span(area, last);
                    area.pages.remove_users(first, lastp);
                }
            }
            return Err(e);
        }
        // Room was reserved above.
        let _ = domains.push_within_capacity(DomainEntry {
            domain: domain.clone(),
            outside,
        });
        if let Err(e) = state.set_domains(&domains) {
            let _ = domains.pop();
            Self::unfill_domain(&state, domain, pins);
            return Err(e);
        }
        kernel::warn_on!(state.iova_alignment != alignment);
        Ok(())
    }

    /// Unmaps every area from `domain`; drops the areas' pins if `unpin`.
    fn unfill_domain(state: &IoptState, domain: &Domain, unpin: bool) {
        for (&last, area) in state.areas.iter() {
            unmap_area(domain, area, last);
            if unpin {
                let (first, lastp) = page_span(area, last);
                area.pages.remove_users(first, lastp);
            }
        }
    }

    /// Removes `domain`, added with [`IoPageTable::add_domain`], unmapping every area from
    /// it (and unpinning them if it was the last domain).
    pub(crate) fn remove_domain(&self, domain: &Arc<Domain>) {
        let mut domains = self.domains.write();
        let mut state = self.state.lock();
        let Some(pos) = domains.iter().position(|d| Arc::ptr_eq(&d.domain, domain)) else {
            kernel::warn_on!(true);
            return;
        };
        let last_one = domains.len() == 1;
        Self::unfill_domain(&state, domain, last_one);
        // `remove` only fails for an index out of bounds.
        let _ = domains.remove(pos);
        if state.set_domains(&domains).is_err() {
            // Out of memory: the domain's aperture stays reserved and its page size keeps
            // aligning, which only refuses IOVA; the count must follow.
            state.domain_limits.count = domains.len();
            pr_warn!("iommufd: aperture of a detached domain stays reserved (no memory)\n");
        }
    }
}
