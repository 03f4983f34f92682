// SPDX-License-Identifier: GPL-2.0

//! The device layer: what issues DMA requests, and on whose behalf.
//!
//! - [`access`]: an in-kernel user of an IOAS that reaches memory through the CPU instead of
//!   DMA (an emulated device, the test command's accessor).
//!
//! - [`idev`]: a physical device bound to a context by its driver (VFIO, or the test
//!   command's mock devices), and its attachment to an IOAS or a HWPT.
//! - [`hw_info`]: `IOMMU_GET_HW_INFO`, what the IOMMU of a bound device can do.
//! - [`vdevice`]: a bound device's virtual ID on a vIOMMU.

pub(crate) mod access;
pub(crate) mod hw_info;
pub(crate) mod idev;
pub(crate) mod vdevice;
