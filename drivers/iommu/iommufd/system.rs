// SPDX-License-Identifier: GPL-2.0

//! The system layer: how the DMA requests of devices meet IO page tables.
//!
//! It has no objects of its own. Its data lives on the other two layers:
//!
//! - [`group`]: the IOMMU group a bound device belongs to, shared by the group's devices
//!   in one context, with the domain the group is attached to. The iommu core attaches
//!   whole groups; iommufd attaches devices, and tracks which of them asked.
//! - [`msi`]: software MSI windows, where the IOMMU translates MSIs (ARM): the doorbell
//!   pages a context maps, on the context, its groups and its paging HWPTs.
//! - On IO page tables: the IOVA a domain cannot translate (reserved while it is
//!   attached, [`crate::pagetable::domains`]), and the devices' reserved regions.

pub(crate) mod group;
pub(crate) mod msi;
