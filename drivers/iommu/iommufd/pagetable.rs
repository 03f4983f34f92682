// SPDX-License-Identifier: GPL-2.0

//! The IO page table layer: IO address spaces and the IOVA space they manage.
//!
//! - [`ioas`]: the IOAS object and its ioctls.
//! - [`iopt`]: the IO page table of an IOAS: its IOVA space (allowed and reserved ranges) and
//!   options. Pinned-page mappings and the hardware page tables filled from them join it
//!   later.
//! - [`iova`]: sets of IOVA ranges.

pub(crate) mod ioas;
pub(crate) mod iopt;
pub(crate) mod iova;

pub(crate) use ioas::Ioas;
