// SPDX-License-Identifier: GPL-2.0

//! The device layer: what issues DMA requests, and on whose behalf.
//!
//! - [`access`]: an in-kernel user of an IOAS that reaches memory through the CPU instead of
//!   DMA (an emulated device, the test command's accessor).
//!
//! Bound physical devices join this layer with the in-kernel API for VFIO.

pub(crate) mod access;
