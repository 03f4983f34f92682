// SPDX-License-Identifier: GPL-2.0

//! iommufd: the `/dev/iommu` user API, in Rust.
//!
//! A process opens `/dev/iommu` and builds, through ioctls, the objects that connect its
//! devices' DMA to its memory. The code is split along the three layers of the original
//! iommufd proposal:
//!
//! 1. the device layer (`device/`, with the in-kernel API in [`kapi`]): device objects and the DMA
//!    requests (RID, PASID) they issue;
//! 2. the system layer (`system/`): how those requests are matched to IO page tables (groups,
//!    reserved regions, MSI). It has no objects of its own; it is data kept on the other two;
//! 3. the IO page table layer ([`pagetable`]): IO address spaces (IOAS) and hardware page
//!    tables, mapping IOVA to pinned pages.
//!
//! The device layer has bound devices ([`device::idev`]), their virtual IDs on vIOMMUs
//! ([`device::vdevice`]) and in-kernel accesses ([`device::access`]); the system layer the
//! IOMMU groups of bound devices and what each PASID is attached to ([`system::group`]);
//! the third layer the IOAS, with pinning, paging HWPTs whose domains the IOAS fills
//! ([`pagetable::domains`]), nested HWPTs, vIOMMUs with their event and HW queues, and
//! the fault queues.
//!
//! [`driver`] holds the structures IOMMU drivers embed in C's layout, and [`mmap`] the
//! regions drivers expose for `mmap()` of `/dev/iommu`. [`kapi`] is the in-kernel API that
//! VFIO calls (`include/linux/iommufd.h`), exported from `exports.c`.
//!
//! Around them: [`ctx`] is what one open file holds, [`object`] its table of objects by id
//! (and [`kinds`] the registry of the kinds of object it holds),
//! [`ucmd`] the ioctl entry points and their size-prefixed argument structs, [`uapi`] the
//! user ABI (`include/uapi/linux/iommu.h`), checked against the kernel's own at compile time.
//!
//! # Lock order
//!
//! From outer to inner; a lock may be taken while holding only locks above it. Each lock
//! of the module is made at its own `new_mutex!`/`new_spinlock!` site, so that lockdep
//! has a class per lock below and checks every nesting that happens against this order;
//! no two locks of one class are ever held at once.
//!
//! 0. the live view's `REGISTRY` (its debugfs `summary` reads every context's IOASes
//!    under it: 6, 7 and 10 below); opening and closing a context take it alone, and a
//!    context's own debugfs files do not take it;
//! 1. `IommufdCtx::change_process_lock` (serialises `IOMMU_IOAS_CHANGE_PROCESS`);
//! 2. a test accessor's `items` (held across a pin, as in C);
//! 3. `Access::state` (C's `ioas_lock`; dropped around the driver's unmap callback);
//! 4. `Ioas::auto_hwpts` (C's `ioas->mutex`: attaches that pick or make an automatic HWPT);
//! 5. `GroupTable::groups`, then `IGroup::state` (C's `igroup->lock`: what each PASID of
//!    a group is attached to). Under `IGroup::state`:
//!    - the iommu core's `group->mutex` (attach, replace and detach of the group or of a
//!      PASID), under which the IOMMU driver may take `iopf_param->lock` (enabling or
//!      disabling IO page faults for the device) and the iommu core may call
//!      `iommufd_sw_msi()`, which takes the context's SW-MSI doorbell list
//!      (`SwMsiMaps`, `system/msi.rs`), allocating and mapping under it; the list is
//!      also taken directly when a group's doorbells are mapped into a new domain before
//!      it attaches;
//!    - a fault queue's `Fault::state` (a detach answers the faults left), under which a
//!      fault group is answered (`iopf_param->lock`, innermost).
//!
//!    `Fault::state` is also taken alone by the queue's `read`/`write`, which copy to and
//!    from user memory under it (the caller's `mmap_lock`, by a page fault);
//! 6. `IoPageTable::domains` (a read-write semaphore per IOAS, C's `domains_rwsem`: the
//!    domains the IOAS fills), then `IoPageTable::state` (a mutex per IOAS, C's
//!    `iova_rwsem`: the areas and the IOVA space). Maps and unmaps hold `domains` for
//!    reading and pin and `iommu_map`/`iommu_unmap` their own (`busy`) areas without
//!    `state`; adding or removing a domain, and turning huge pages off, hold both for
//!    writing. An unmap drops both before asking accesses to unpin. Dropping an area's last
//!    `Pages` of a dma-buf under `state` takes the exporter's reservation lock (to unpin the
//!    attachment);
//! 7. `Pages::state` (a mutex per `Pages`: its pinned runs and its owner), or for a
//!    dma-buf `Revocable::state` (its range and domain mappings; the exporter's
//!    reservation lock is taken before it when the buffer is imported or revoked, and a
//!    revoke unmaps the tracked domain mappings under both);
//! 8. the source mm's `mmap_lock` (taken by pinning and by `locked_vm` accounting, and by
//!    the page faults of `iommufd_access_rw`'s copy through the owner's page tables, which
//!    runs under `IoPageTable::state` only, as C's under `iova_rwsem`);
//! 9. a device's vDEVICE slot (`IDevice::vdev`), held while a vDEVICE is published so
//!    that an unbind sees it: the object table's lock is taken under it;
//! 10. the object table's xarray spinlock and `Access::ops` (spinlocks, never held across
//!     anything that sleeps).
//!
//! Alone or innermost: `Viommu::vdevs` (the driver's lookups by virtual ID),
//! `Viommu::veventqs` then `VEventq::state` (a spinlock: reporting allocates nothing under
//! it), `MmapTable::regions`, and the mock vIOMMU's HW queue lock.

use kernel::{
    miscdevice::{MiscDeviceNode, MiscDeviceOptions, MiscDeviceRegistration},
    prelude::*,
};

mod ctx;
mod debugfs;
mod device;
mod driver;
mod kapi;
mod kinds;
mod mmap;
mod object;
mod option;
mod pagetable;
#[cfg(CONFIG_IOMMUFD_TEST)]
mod selftest;
mod system;
mod trace;
mod uapi;
mod ucmd;
mod vfio_compat;

module! {
    type: IommufdModule,
    name: "iommufd",
    authors: ["The iommufd-rs authors"],
    description: "IOMMU Userspace API (/dev/iommu), in Rust",
    license: "GPL",
    imports_ns: ["IOMMUFD", "IOMMUFD_INTERNAL", "GENERIC_PT_IOMMU", "DMA_BUF"],
}

/// Whether an iommufd fault injection point should fail (C's `iommufd_should_fail()`):
/// with `CONFIG_IOMMUFD_TEST`, as `fail_iommufd` in debugfs (or a task's `fail-nth`)
/// says; never otherwise.
pub(crate) fn should_fail() -> bool {
    #[cfg(CONFIG_IOMMUFD_TEST)]
    {
        selftest::FAIL_IOMMUFD.should_fail(1)
    }
    #[cfg(not(CONFIG_IOMMUFD_TEST))]
    {
        false
    }
}

kernel::sync::global_lock! {
    // SAFETY: Initialised in the module's initialiser, before anything can use it.
    /// The live view's root directory and open contexts ([`debugfs`]); taken alone, or
    /// before any lock of a context (the crate's lock order).
    unsafe(uninit) static REGISTRY: Mutex<debugfs::Registry> = debugfs::Registry::new();
}

/// The loaded module: the `/dev/iommu` misc device, and `/dev/vfio/vfio` when the module
/// provides VFIO's container.
#[pin_data]
struct IommufdModule {
    #[pin]
    misc: MiscDeviceRegistration<ctx::IommufdCtx>,
    /// `/dev/vfio/vfio`: VFIO's container, whose ioctls `vfio_compat` emulates.
    #[cfg(CONFIG_IOMMUFD_VFIO_CONTAINER)]
    #[pin]
    vfio: MiscDeviceRegistration<ctx::IommufdCtx>,
    /// `make bench`'s floor (`/sys/kernel/debug/iommufd-test/floor`), which makes mock
    /// devices: removed, waiting for its writers, before the mock IOMMU goes.
    #[cfg(CONFIG_IOMMUFD_TEST)]
    _floor: selftest::floor::FloorFile,
    /// The mock IOMMU of the test command; dropped after the device node, so no open file
    /// can create mock devices any more.
    #[cfg(CONFIG_IOMMUFD_TEST)]
    mock: selftest::mock::Registration,
    /// `/sys/kernel/debug/iommufd/`: made before the device nodes exist, removed after
    /// they are gone (an open file holds the module, so no context is left then).
    _debugfs: debugfs::Root,
    /// The operations lent to the built-in driver core: lent before the device nodes
    /// exist (initialised first), taken back after they are gone (dropped last).
    _driver_core: kapi::driver::DriverCore,
}

impl kernel::InPlaceModule for IommufdModule {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        pr_info!("Rust iommufd: /dev/iommu\n");
        #[cfg(CONFIG_IOMMUFD_TEST)]
        selftest::register_hooks();
        #[cfg(CONFIG_VFIO_PCI_DMABUF)]
        kapi::vfio_pci::register();
        // SAFETY: Called once, here, before any context or the live view can use it.
        unsafe { REGISTRY.init() };
        try_pin_init!(Self {
            _driver_core: kapi::driver::DriverCore::register()?,
            _debugfs: debugfs::Root::create(),
            misc <- MiscDeviceRegistration::register_node(
                MiscDeviceOptions { name: c"iommu" },
                MiscDeviceNode {
                    nodename: Some(c"iommu"),
                    mode: 0o660,
                    minor: None,
                    owner: module,
                },
            ),
            #[cfg(CONFIG_IOMMUFD_VFIO_CONTAINER)]
            vfio <- MiscDeviceRegistration::register_node(
                MiscDeviceOptions { name: c"vfio" },
                MiscDeviceNode {
                    nodename: Some(c"vfio/vfio"),
                    mode: 0o666,
                    minor: Some(kernel::bindings::VFIO_MINOR),
                    owner: module,
                },
            ),
            #[cfg(CONFIG_IOMMUFD_TEST)]
            mock: selftest::mock::register()?,
            #[cfg(CONFIG_IOMMUFD_TEST)]
            _floor: selftest::floor::FloorFile::create(),
        })
        .pin_chain(|this| {
            kapi::register_node(kapi::Node::Iommu, &this.misc);
            #[cfg(CONFIG_IOMMUFD_VFIO_CONTAINER)]
            {
                kapi::register_node(kapi::Node::VfioContainer, &this.vfio);
                pr_info!("IOMMUFD is providing /dev/vfio/vfio, not VFIO.\n");
            }
            Ok(())
        })
    }
}
