// SPDX-License-Identifier: GPL-2.0

//! The IO page table layer: IO address spaces and the IOVA space they manage.
//!
//! - [`ioas`]: the IOAS object and its ioctls; [`auto_hwpt`]: the HWPTs it makes for the
//!   devices attached to it directly.
//! - [`iopt`]: the IO page table of an IOAS: its mappings, its IOVA space (allowed and
//!   reserved ranges, alignment) and the IOVA allocator. Hardware page tables filled from the
//!   mappings join it later.
//! - [`area`]: the mappings, IOVA range to a slice of [`pages::Pages`].
//! - [`pages`]: the memory mappings point into, shared between IO address spaces (user
//!   memory, files, or dma-bufs: [`dmabuf`]), and
//!   [`pinned`]: its pinned pages, as runs of contiguous pfns.
//! - [`hwpt`]: paging hardware page tables: an iommu domain filled from an IOAS;
//!   [`nested`]: nested ones, a user-owned stage 1 on a paging parent; [`domains`]: how an
//!   IO page table fills the domains attached to it, and [`dirty`]: reading which IOVA
//!   devices wrote.
//! - [`viommu`]: a VM's share of an IOMMU, which nested HWPTs and cache invalidations may
//!   go through, with its HW queues ([`viommu::hw_queue`]: guest queues its hardware reads).
//! - [`eventq`]: the event queues, each an object with a file: the IO page faults of HWPTs
//!   ([`eventq::fault`]) and a vIOMMU's events ([`eventq::veventq`]).
//! - [`access`]: in-kernel access to the mappings (pin, unpin, copy) for emulated devices.
//! - [`iova`]: sets of IOVA ranges.
//! - [`view`]: what the tables hold, for a context's live view (`fdinfo`).

pub(crate) mod access;
pub(crate) mod area;
pub(crate) mod auto_hwpt;
pub(crate) mod dirty;
pub(crate) mod dmabuf;
pub(crate) mod domains;
pub(crate) mod eventq;
pub(crate) mod hwpt;
pub(crate) mod ioas;
pub(crate) mod iopt;
pub(crate) mod iova;
pub(crate) mod nested;
pub(crate) mod pages;
pub(crate) mod pinned;
pub(crate) mod view;
pub(crate) mod viommu;

pub(crate) use ioas::Ioas;
