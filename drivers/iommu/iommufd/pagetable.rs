// SPDX-License-Identifier: GPL-2.0

//! The IO page table layer: IO address spaces and the IOVA space they manage.
//!
//! - [`ioas`]: the IOAS object and its ioctls.
//! - [`iopt`]: the IO page table of an IOAS: its mappings, its IOVA space (allowed and
//!   reserved ranges, alignment) and the IOVA allocator. Hardware page tables filled from the
//!   mappings join it later.
//! - [`area`]: the mappings, IOVA range to a slice of [`pages::Pages`].
//! - [`pages`]: the memory mappings point into, shared between IO address spaces (user
//!   memory, files, or dma-bufs: [`dmabuf`]), and
//!   [`pinned`]: its pinned pages, as runs of contiguous pfns.
//! - [`hwpt`]: paging hardware page tables: an iommu domain filled from an IOAS;
//!   [`nested`]: nested ones, a user-owned stage 1 on a paging parent; [`fault`]: the
//!   queues their IO page faults go to user space through; [`viommu`]: a VM's share of
//!   an IOMMU, which nested HWPTs and cache invalidations may go through, and
//!   [`veventq`]: the events it reports, and [`hw_queue`]: guest queues its hardware
//!   reads; [`eventq`]: the file both event queues share; and
//!   [`domains`]: how an IO page table fills the domains attached to it, and [`dirty`]:
//!   reading which IOVA devices wrote.
//! - [`access`]: in-kernel access to the mappings (pin, unpin, copy) for emulated devices.
//! - [`iova`]: sets of IOVA ranges.

pub(crate) mod access;
pub(crate) mod area;
pub(crate) mod dirty;
pub(crate) mod dmabuf;
pub(crate) mod domains;
pub(crate) mod eventq;
pub(crate) mod fault;
pub(crate) mod hw_queue;
pub(crate) mod hwpt;
pub(crate) mod ioas;
pub(crate) mod iopt;
pub(crate) mod iova;
pub(crate) mod nested;
pub(crate) mod pages;
pub(crate) mod pinned;
pub(crate) mod veventq;
pub(crate) mod viommu;

pub(crate) use ioas::Ioas;
