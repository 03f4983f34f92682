// SPDX-License-Identifier: GPL-2.0

//! The HW queue structure a driver embeds (C's `struct iommufd_hw_queue`).
//!
//! The vIOMMU's driver reports its size for a queue type (`get_hw_queue_size`); iommufd
//! fills the core part and hands the structure, with the physical address of the pinned
//! queue memory, to the driver's `hw_queue_init_phys`, which sets `destroy`.

use kernel::{bindings, prelude::*};

use super::{viommu::DriverViommu, DriverStruct, Owner};
use crate::pagetable::viommu::hw_queue::HwQueue;

/// A driver's `hw_queue_init_phys`.
pub(super) type HwQueueInit = unsafe extern "C" fn(
    hw_queue: *mut bindings::iommufd_hw_queue,
    index: u32,
    base_addr_pa: bindings::phys_addr_t,
) -> kernel::ffi::c_int;

/// The driver's HW queue structure; the driver's `destroy` runs before it is freed.
///
/// # Invariants
///
/// The core part names a vIOMMU that outlives the structure (the queue holds it); `init`
/// is its driver's `hw_queue_init_phys`.
pub(crate) struct DriverHwQueue {
    drv: DriverStruct<bindings::iommufd_hw_queue, HwQueue>,
    init: HwQueueInit,
}

// SAFETY: `HwQueue::drv` is a plain field, never moved out of the `HwQueue`.
unsafe impl Owner<bindings::iommufd_hw_queue> for HwQueue {
    fn driver_struct(&self) -> &DriverStruct<bindings::iommufd_hw_queue, Self> {
        &self.drv.drv
    }
}

impl DriverHwQueue {
    /// The structure of the HW queue `id` of type `ty` on `viommu`, for the guest memory
    /// `[base_addr, base_addr + length)`, of `size` bytes (what
    /// [`DriverViommu::hw_queue_size`] says), its core part filled. `viommu` must outlive
    /// it (the queue holds it).
    ///
    /// # Errors
    ///
    /// `EOPNOTSUPP` if the driver has no HW queues, or (warned) if `size` is smaller than
    /// the core part; `ENOMEM`.
    pub(crate) fn alloc(
        viommu: &DriverViommu,
        size: usize,
        ty: u32,
        id: u32,
        base_addr: u64,
        length: usize,
    ) -> Result<Self> {
        let init = viommu.hw_queue_init().ok_or(EOPNOTSUPP)?;
        let mut drv = DriverStruct::<bindings::iommufd_hw_queue, HwQueue>::alloc(size)?;
        let core = drv.raw_mut();
        core.obj.type_ = bindings::iommufd_object_type_IOMMUFD_OBJ_HW_QUEUE;
        core.obj.id = id;
        core.viommu = viommu.as_raw();
        core.type_ = ty;
        core.length = length;
        core.base_addr = base_addr;
        // INVARIANT: The caller keeps `viommu` while the structure lives.
        Ok(Self { drv, init })
    }

    /// Runs the driver's `hw_queue_init_phys` for the queue `index`, whose memory starts at
    /// the physical address `base_pa`, once the queue owns the structure.
    ///
    /// The memory must stay pinned, and mapped in the vIOMMU's nest parent, until after
    /// [`DriverHwQueue::destroy`]: the hardware reads it.
    ///
    /// # Errors
    ///
    /// What the driver returns.
    pub(crate) fn init(&self, index: u32, base_pa: u64) -> Result {
        // SAFETY: The core part is filled and the vIOMMU initialised (type invariant); the
        // driver sets `destroy` on success.
        kernel::error::to_result(unsafe { (self.init)(self.drv.as_raw(), index, base_pa) })
    }

    /// Runs the driver's `destroy`, once: the hardware stops reading the queue memory.
    pub(crate) fn destroy(&mut self) {
        if let Some(destroy) = self.drv.raw_mut().destroy.take() {
            // SAFETY: The driver set up the structure (it set `destroy`); it is destroyed
            // once, before it is freed.
            unsafe { destroy(self.drv.as_raw()) };
        }
    }

    /// The HW queue whose driver structure is `raw`.
    ///
    /// # Safety
    ///
    /// `raw` is the driver structure of a live [`HwQueue`], alive for `'a`.
    pub(crate) unsafe fn owner<'a>(raw: *const bindings::iommufd_hw_queue) -> &'a HwQueue {
        // SAFETY: By the caller's guarantee, and `HwQueue` publishes itself as the owner
        // when it is made (`Owner`).
        unsafe { DriverStruct::owner_of(raw) }
    }
}
