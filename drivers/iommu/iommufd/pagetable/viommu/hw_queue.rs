// SPDX-License-Identifier: GPL-2.0

//! HW queues (`IOMMU_HW_QUEUE_ALLOC`): a queue in guest memory (a command queue, say) that
//! the IOMMU hardware behind a vIOMMU reads directly, by physical address.
//!
//! The queue lies at an IOVA of the vIOMMU's nest parent (a guest physical address).
//! iommufd pins its pages through an internal access, checks that they are physically
//! contiguous (the hardware reads one physical range), and hands the physical address to
//! the driver (`hw_queue_init_phys`). The pins lock their areas: unmapping them fails with
//! `EBUSY` while the queue exists, so the hardware never reads freed memory.
//!
//! The driver's structure starts with C's `struct iommufd_hw_queue`
//! ([`crate::driver::hw_queue`]);
//! a driver may make one queue depend on another (`iommufd_hw_queue_depend()`, through the
//! driver core to [`crate::kapi::driver`]), which then cannot be destroyed first (`EBUSY`).
//!
//! # Lifetime
//!
//! A queue holds its vIOMMU as a user. On destruction the driver's `destroy` runs, then
//! the pages are unpinned and the internal access destroyed, then the vIOMMU's user goes.

use kernel::{page::PAGE_SIZE, prelude::*, sync::Arc};

use crate::{
    device::access::Access,
    driver::hw_queue::DriverHwQueue,
    object::{ObjRef, ObjectHeader},
    pagetable::viommu::Viommu,
    uapi,
    ucmd::UCmd,
};

/// The pinned guest memory of a queue, through an internal access.
struct Pinned {
    access: Arc<Access>,
    /// The page-aligned IOVA range pinned.
    iova: u64,
    length: u64,
}

impl Drop for Pinned {
    fn drop(&mut self) {
        self.access.unpin_pages(self.iova, self.length);
        Access::destroy(&self.access);
    }
}

/// A HW queue.
pub(crate) struct HwQueue {
    header: ObjectHeader,
    /// The driver's structure (its `destroy` runs first, see `Drop`).
    pub(crate) drv: DriverHwQueue,
    /// The pinned queue memory (released after the driver let go of it).
    _pinned: Pinned,
    /// The vIOMMU (dropped last).
    _viommu: ObjRef<Viommu>,
}

crate::object::object_type!(HwQueue, HwQueue);

impl Drop for HwQueue {
    fn drop(&mut self) {
        // The hardware stops using the memory before it is unpinned (by the fields' drops,
        // in declaration order).
        self.drv.destroy();
    }
}

/// Pins the queue memory `[iova, iova + length)` of the vIOMMU's nest parent through a new
/// internal access; returns it with the physical address of `iova`.
///
/// # Errors
///
/// `ERANGE` if the range wraps; `ENOENT` if not all mapped; `EFAULT` if the pages are not
/// physically contiguous; `ENOMEM`.
fn pin_phys(ucmd: &UCmd<'_>, viommu: &Viommu, iova: u64, length: u64) -> Result<(Pinned, u64)> {
    let page = PAGE_SIZE as u64;
    let aligned = iova & !(page - 1);
    let offset = iova - aligned;
    let span = offset
        .checked_add(length)
        .and_then(|l| l.checked_add(page - 1))
        .ok_or(ERANGE)?
        / page
        * page;
    let access = Access::create_internal(&ucmd.ctx.objects)?;
    if let Err(e) = Access::attach_ioas(&access, viommu.hwpt().ioas.clone()) {
        Access::destroy(&access);
        return Err(e);
    }
    let mut pfns = KVVec::new();
    let mut alloc = Ok(());
    let r = access.pin_pages(aligned, span, false, |pfn| {
        if alloc.is_ok() {
            alloc = pfns.push(pfn, GFP_KERNEL).map_err(Error::from);
        }
    });
    if let Err(e) = r {
        Access::destroy(&access);
        return Err(e);
    }
    let pinned = Pinned {
        access,
        iova: aligned,
        length: span,
    };
    alloc?;
    if pfns.windows(2).any(|w| w[1] != w[0] + 1) {
        return Err(EFAULT);
    }
    let first = *pfns.first().ok_or(EFAULT)? as u64;
    Ok((pinned, first * page + offset))
}

/// `IOMMU_HW_QUEUE_ALLOC`: a HW queue of `type` at index `index` of the vIOMMU
/// `viommu_id`, in the guest memory `[nesting_parent_iova, + length)`; answers with its
/// id.
///
/// # Errors
///
/// `EOPNOTSUPP` for non-zero flags, the default type, or a type the driver does not
/// provide; `EINVAL` for a zero length; `EOVERFLOW` if the range wraps; `ENOENT` for an
/// unknown vIOMMU or unmapped memory; `EFAULT` for memory that is not physically
/// contiguous; what the driver returns; `ENOMEM`.
pub(crate) fn alloc(ucmd: &UCmd<'_>, cmd: &mut uapi::HwQueueAlloc) -> Result {
    if cmd.flags != 0 || cmd.type_ == kernel::uapi::iommu_hw_queue_type_IOMMU_HW_QUEUE_TYPE_DEFAULT
    {
        return Err(EOPNOTSUPP);
    }
    if cmd.length == 0 {
        return Err(EINVAL);
    }
    cmd.nesting_parent_iova
        .checked_add(cmd.length - 1)
        .ok_or(EOVERFLOW)?;
    let viommu = ucmd.ctx.objects.get::<Viommu>(cmd.viommu_id)?;
    // As C, the driver is asked for the structure's size before the memory is pinned.
    let size = viommu.drv.hw_queue_size(cmd.type_)?;
    let reservation = ucmd.ctx.objects.reserve()?;
    let drv = DriverHwQueue::alloc(
        &viommu.drv,
        size,
        cmd.type_,
        reservation.id(),
        cmd.nesting_parent_iova,
        cmd.length as usize,
    )?;
    let (pinned, base_pa) = pin_phys(ucmd, &viommu, cmd.nesting_parent_iova, cmd.length)?;
    let queue = Arc::new(
        HwQueue {
            header: ObjectHeader::new(),
            drv,
            _pinned: pinned,
            _viommu: viommu.clone(),
        },
        GFP_KERNEL_ACCOUNT,
    )?;
    crate::driver::set_owner(&queue);
    queue.drv.init(cmd.index, base_pa)?;
    cmd.out_hw_queue_id = reservation.id();
    let prepared = reservation.prepare(queue)?;
    ucmd.respond(cmd)?;
    prepared.publish();
    Ok(())
}
