// SPDX-License-Identifier: GPL-2.0

//! The mock IOMMU driver: the hardware the selftests run against.
//!
//! A bus of its own (`iommufd_mock`) whose devices the mock IOMMU translates for; it is
//! registered with the iommu core like any IOMMU driver, so binding, attaching and mapping
//! go through the core's real paths. Its paging domains are real IO page tables in the
//! generic page table library's AMDv1 "mock" format (2 KiB pages, the aperture of
//! `iommufd_test.h`), so `IOMMU_TEST_OP_MD_CHECK_MAP` can read back what iommufd mapped.
//!
//! This is the one file of the module that implements a C driver interface: the
//! `iommu_ops` and `iommu_domain_ops` tables are statics shared with the core, and each
//! callback converts between the core's pointers and the mock's types.
//!
//! # Lifetime
//!
//! The bus and the IOMMU are registered at module load ([`register`]) and unregistered at
//! unload ([`Registration`]'s drop). Each mock device is created by a test op and lives
//! until its selftest object is destroyed ([`MockDev`]).

use core::{
    ffi::c_int,
    mem::MaybeUninit,
    ptr::{addr_of_mut, null_mut},
    sync::atomic::{AtomicU32, Ordering},
};
use kernel::{
    bindings, device::Device, error::to_result, prelude::*, sync::aref::ARef, types::Opaque, uapi,
};

/// A C structure that the core reads (and, for the bus and the IOMMU, writes) through a
/// static.
#[repr(transparent)]
struct Shared<T>(Opaque<T>);

// SAFETY: The core serialises its own writes (bus and IOMMU registration run under its
// locks, and only at load and unload); the operation tables are never written after
// initialisation.
unsafe impl<T> Sync for Shared<T> {}

impl<T> Shared<T> {
    const fn new(value: T) -> Self {
        Self(Opaque::new(value))
    }

    const fn get(&self) -> *mut T {
        self.0.get()
    }
}

/// All-zero C data, as C's static initialisers leave unnamed fields.
const fn zeroed<T>() -> T {
    // SAFETY: Used only for bindgen structures of integers, raw pointers and optional
    // function pointers, for which zero is a valid value (`NULL`, `None`).
    unsafe { MaybeUninit::zeroed().assume_init() }
}

/// The mock bus.
// A byte string: `CStrExt::as_char_ptr` cannot run in a static's initialiser.
#[allow(clippy::manual_c_str_literals)]
static MOCK_BUS: Shared<bindings::bus_type> = Shared::new(bindings::bus_type {
    name: b"iommufd_mock\0".as_ptr(),
    ..zeroed()
});

/// The notifier the core registers on the bus.
static MOCK_BUS_NB: Shared<bindings::notifier_block> = Shared::new(zeroed());

/// The mock IOMMU instance.
static MOCK_IOMMU: Shared<bindings::iommu_device> = Shared::new(zeroed());

/// Attaching a mock domain needs no hardware programming.
///
/// # Safety
///
/// Called by the iommu core (`iommu_domain_ops::attach_dev`); touches nothing.
unsafe extern "C" fn nop_attach(
    _domain: *mut bindings::iommu_domain,
    _dev: *mut bindings::device,
    _old: *mut bindings::iommu_domain,
) -> c_int {
    0
}

/// Nor does attaching one to a PASID.
///
/// # Safety
///
/// Called by the iommu core (`iommu_domain_ops::set_dev_pasid`); touches nothing.
unsafe extern "C" fn nop_set_dev_pasid(
    _domain: *mut bindings::iommu_domain,
    _dev: *mut bindings::device,
    _pasid: bindings::ioasid_t,
    _old: *mut bindings::iommu_domain,
) -> c_int {
    0
}

static BLOCKING_OPS: Shared<bindings::iommu_domain_ops> = Shared::new(bindings::iommu_domain_ops {
    attach_dev: Some(nop_attach),
    set_dev_pasid: Some(nop_set_dev_pasid),
    ..zeroed()
});

/// The blocking domain, also the default domain of mock devices.
static BLOCKING_DOMAIN: Shared<bindings::iommu_domain> = Shared::new(bindings::iommu_domain {
    type_: bindings::IOMMU_DOMAIN_BLOCKED,
    ops: BLOCKING_OPS.get(),
    ..zeroed()
});

/// A mock device, on the mock bus.
///
/// # Invariants
///
/// `dev` is the first field, so a `struct device` of the mock bus converts back to its
/// `MockDevice`. The memory belongs to the device's reference count: it is freed by the
/// release callback when the last reference goes.
#[repr(C)]
struct MockDevice {
    dev: Opaque<bindings::device>,
    /// `MOCK_FLAGS_DEVICE_*`.
    flags: u32,
}

/// The mock device of `dev`, which must be on the mock bus.
///
/// # Safety
///
/// `dev` is a valid device of the mock bus.
unsafe fn to_mock_dev<'a>(dev: *mut bindings::device) -> &'a MockDevice {
    // SAFETY: By the type invariant the device is the first field of a live `MockDevice`.
    unsafe { &*dev.cast::<MockDevice>() }
}

/// Whether `dev` is on the mock bus.
///
/// # Safety
///
/// `dev` is a valid device.
unsafe fn on_mock_bus(dev: *mut bindings::device) -> bool {
    // SAFETY: The caller gives a valid device.
    core::ptr::eq(unsafe { (*dev).bus }, MOCK_BUS.get())
}

/// Frees a mock device when its last reference goes.
///
/// # Safety
///
/// Called by the driver core, once, with a mock device whose last reference was dropped.
unsafe extern "C" fn mock_dev_release(dev: *mut bindings::device) {
    // SAFETY: The last reference to a mock device is gone: we own its `MockDevice`, which
    // was leaked from a `KBox` in `MockDev::new`.
    drop(unsafe { KBox::from_raw(dev.cast::<MockDevice>()) });
}

/// The paging domains of the mock IOMMU.
///
/// # Invariants
///
/// `pt.iommu.domain` is at offset 0 (checked below), so the core's `iommu_domain` converts
/// back to its `MockDomain`. Allocated by [`mock_domain_alloc_paging_flags`] from a
/// `KBox`, freed by [`mock_domain_free`].
#[repr(C)]
struct MockDomain {
    pt: bindings::pt_iommu_amdv1,
}

const _: () = assert!(core::mem::offset_of!(bindings::pt_iommu_amdv1, iommu) == 0);
const _: () = assert!(core::mem::offset_of!(bindings::pt_iommu, domain) == 0);

/// Frees the page table pages an unmap released.
///
/// # Safety
///
/// Called by the iommu core with the valid gather of an unmap of a mock domain.
unsafe extern "C" fn mock_iotlb_sync(
    _domain: *mut bindings::iommu_domain,
    gather: *mut bindings::iommu_iotlb_gather,
) {
    // SAFETY: The core passes the gather of the unmap being synced; its freelist holds
    // pages the page table library gave up.
    unsafe { bindings::iommu_put_pages_list(addr_of_mut!((*gather).freelist)) };
}

/// Frees a mock paging domain.
///
/// # Safety
///
/// Called by the iommu core, once, with a domain of [`PAGING_OPS`] nothing uses any more.
unsafe extern "C" fn mock_domain_free(domain: *mut bindings::iommu_domain) {
    let mock = domain.cast::<MockDomain>();
    // SAFETY: By the type invariant the domain is the start of a `MockDomain` we
    // allocated; its page table was initialised (or its `ops` is still NULL).
    unsafe {
        let iommu = addr_of_mut!((*mock).pt.iommu);
        if !(*iommu).ops.is_null() {
            if let Some(deinit) = (*(*iommu).ops).deinit {
                deinit(iommu);
            }
        }
        drop(KBox::from_raw(mock));
    }
}

/// The operations of the mock's paging domains.
static PAGING_OPS: Shared<bindings::iommu_domain_ops> = Shared::new(bindings::iommu_domain_ops {
    attach_dev: Some(nop_attach),
    set_dev_pasid: Some(nop_set_dev_pasid),
    iova_to_phys: Some(bindings::pt_iommu_amdv1_mock_iova_to_phys),
    iotlb_sync: Some(mock_iotlb_sync),
    free: Some(mock_domain_free),
    ..zeroed()
});

/// Whether `domain` is a paging domain of the mock IOMMU.
pub(crate) fn is_mock_paging(domain: &kernel::iommu::domain::Domain) -> bool {
    domain.domain_type() == bindings::IOMMU_DOMAIN_UNMANAGED
        && core::ptr::eq(domain.ops(), PAGING_OPS.get())
}

/// Allocates a paging domain in the AMDv1 mock format.
fn alloc_paging(dev: *mut bindings::device, flags: u32) -> Result<*mut bindings::iommu_domain> {
    let paging_flags = uapi::iommufd_hwpt_alloc_flags_IOMMU_HWPT_ALLOC_DIRTY_TRACKING
        | uapi::iommufd_hwpt_alloc_flags_IOMMU_HWPT_ALLOC_NEST_PARENT
        | uapi::iommufd_hwpt_alloc_flags_IOMMU_HWPT_ALLOC_PASID;
    // SAFETY: The core calls us for devices we probed: mock devices.
    let mdev = unsafe { to_mock_dev(dev) };
    let no_dirty = mdev.flags & uapi::MOCK_FLAGS_DEVICE_NO_DIRTY != 0;
    if flags & !paging_flags != 0
        || (flags & uapi::iommufd_hwpt_alloc_flags_IOMMU_HWPT_ALLOC_DIRTY_TRACKING != 0 && no_dirty)
    {
        return Err(EOPNOTSUPP);
    }
    if flags & uapi::iommufd_hwpt_alloc_flags_IOMMU_HWPT_ALLOC_DIRTY_TRACKING != 0 {
        // Dirty tracking comes with the dirty ops of the mock format; not provided yet.
        return Err(EOPNOTSUPP);
    }
    let mut mock = KBox::new(MockDomain { pt: zeroed() }, GFP_KERNEL)?;
    let domain = &mut mock.pt.iommu.domain;
    domain.type_ = bindings::IOMMU_DOMAIN_UNMANAGED;
    domain.ops = PAGING_OPS.get();
    mock.pt.iommu.nid = bindings::NUMA_NO_NODE;
    let cfg = bindings::pt_iommu_amdv1_cfg {
        common: bindings::pt_iommu_cfg {
            features: 0,
            // The mock format: 2 KiB pages.
            hw_max_vasz_lg2: 56,
            hw_max_oasz_lg2: 51,
        },
        starting_level: 2,
    };
    // SAFETY: `mock.pt` is zeroed memory for the table, `cfg` is valid for the call.
    let rc =
        unsafe { bindings::pt_iommu_amdv1_mock_init(&mut mock.pt, &cfg, bindings::GFP_KERNEL) };
    if rc != 0 {
        // Nothing to deinit: init failed.
        return Err(Error::from_errno(rc));
    }
    let domain = &mut mock.pt.iommu.domain;
    domain.geometry.aperture_start = u64::from(uapi::MOCK_APERTURE_START);
    domain.geometry.aperture_end = u64::from(uapi::MOCK_APERTURE_LAST);
    // INVARIANT: Freed by `mock_domain_free`, through the ops just set.
    Ok(KBox::into_raw(mock).cast())
}

/// Allocates a paging domain (`iommu_ops::domain_alloc_paging_flags`).
///
/// # Safety
///
/// Called by the iommu core with a mock device it probed.
unsafe extern "C" fn mock_domain_alloc_paging_flags(
    dev: *mut bindings::device,
    flags: u32,
    user_data: *const bindings::iommu_user_data,
) -> *mut bindings::iommu_domain {
    if !user_data.is_null() {
        // Driver data (IOMMU_HWPT_DATA_SELFTEST) arrives with IOMMU_HWPT_ALLOC.
        return EOPNOTSUPP.to_ptr();
    }
    match alloc_paging(dev, flags) {
        Ok(domain) => domain,
        Err(e) => e.to_ptr(),
    }
}

/// Reports the mock IOMMU's capabilities (`iommu_ops::capable`).
///
/// # Safety
///
/// Called by the iommu core with a mock device it probed.
unsafe extern "C" fn mock_capable(dev: *mut bindings::device, cap: bindings::iommu_cap) -> bool {
    // SAFETY: The core asks about devices we probed: mock devices.
    let mdev = unsafe { to_mock_dev(dev) };
    match cap {
        bindings::iommu_cap_IOMMU_CAP_CACHE_COHERENCY => true,
        bindings::iommu_cap_IOMMU_CAP_DIRTY_TRACKING => {
            mdev.flags & uapi::MOCK_FLAGS_DEVICE_NO_DIRTY == 0
        }
        _ => false,
    }
}

/// Claims the devices of the mock bus (`iommu_ops::probe_device`).
///
/// # Safety
///
/// Called by the iommu core with a valid device.
unsafe extern "C" fn mock_probe_device(dev: *mut bindings::device) -> *mut bindings::iommu_device {
    // SAFETY: The core probes valid devices.
    if unsafe { on_mock_bus(dev) } {
        MOCK_IOMMU.get()
    } else {
        ENODEV.to_ptr()
    }
}

/// The mock IOMMU driver.
static MOCK_OPS: Shared<bindings::iommu_ops> = Shared::new(bindings::iommu_ops {
    // IOMMU_DOMAIN_BLOCKED cannot be returned from def_domain_type() (it is 0): name the
    // blocking domain as the default directly, as C does.
    default_domain: BLOCKING_DOMAIN.get(),
    blocked_domain: BLOCKING_DOMAIN.get(),
    owner: crate::THIS_MODULE.as_ptr(),
    domain_alloc_paging_flags: Some(mock_domain_alloc_paging_flags),
    capable: Some(mock_capable),
    device_group: Some(bindings::generic_device_group),
    probe_device: Some(mock_probe_device),
    ..zeroed()
});

/// The registered bus and IOMMU; unregistered on drop.
pub(crate) struct Registration(());

/// Registers the mock bus and IOMMU.
///
/// # Errors
///
/// As bus and IOMMU registration fail (`ENOMEM`).
pub(crate) fn register() -> Result<Registration> {
    // SAFETY: The bus is a static with a name; it is registered once, here.
    to_result(unsafe { bindings::bus_register(MOCK_BUS.get()) })?;
    // SAFETY: The IOMMU is a static, added to sysfs once; the format has no conversion
    // that takes arguments.
    let rc = unsafe {
        bindings::iommu_device_sysfs_add(
            MOCK_IOMMU.get(),
            null_mut(),
            null_mut(),
            c"iommufd_selftest_iommu".as_char_ptr(),
        )
    };
    if rc != 0 {
        // SAFETY: Registered above.
        unsafe { bindings::bus_unregister(MOCK_BUS.get()) };
        return Err(Error::from_errno(rc));
    }
    // SAFETY: All four are statics that live as long as the module; the core takes the
    // notifier and the IOMMU until `iommu_device_unregister_bus`.
    let rc = unsafe {
        bindings::iommu_device_register_bus(
            MOCK_IOMMU.get(),
            MOCK_OPS.get(),
            MOCK_BUS.get(),
            MOCK_BUS_NB.get(),
        )
    };
    if rc != 0 {
        // SAFETY: Added and registered above.
        unsafe {
            bindings::iommu_device_sysfs_remove(MOCK_IOMMU.get());
            bindings::bus_unregister(MOCK_BUS.get());
        }
        return Err(Error::from_errno(rc));
    }
    Ok(Registration(()))
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: Registered by `register`; every mock device is gone (each belongs to an
        // object of an open file, and the module is unloaded only when none is open).
        unsafe {
            bindings::iommu_device_sysfs_remove(MOCK_IOMMU.get());
            bindings::iommu_device_unregister_bus(
                MOCK_IOMMU.get(),
                MOCK_BUS.get(),
                MOCK_BUS_NB.get(),
            );
            bindings::bus_unregister(MOCK_BUS.get());
        }
    }
}

/// Numbers mock devices (`iommufd_mockN`).
static NEXT_ID: AtomicU32 = AtomicU32::new(0);

/// A mock device, added to the mock bus (and so probed by the mock IOMMU); removed from
/// it on drop.
///
/// # Invariants
///
/// `dev` is a `MockDevice` added with `iommu_mock_device_add`; this object holds the
/// reference from its creation, dropped by `device_unregister`.
pub(crate) struct MockDev {
    dev: ARef<Device>,
}

impl MockDev {
    /// Creates a mock device with the flags `MOCK_FLAGS_DEVICE_*`.
    ///
    /// # Errors
    ///
    /// `EINVAL` for unknown flags, `EOPNOTSUPP` for PASID devices (not provided yet),
    /// `ENOMEM`, or as adding the device fails.
    pub(crate) fn new(flags: u32) -> Result<Self> {
        if flags & !(uapi::MOCK_FLAGS_DEVICE_NO_DIRTY | uapi::MOCK_FLAGS_DEVICE_PASID) != 0 {
            return Err(EINVAL);
        }
        if flags & uapi::MOCK_FLAGS_DEVICE_PASID != 0 {
            return Err(EOPNOTSUPP);
        }
        let mdev = KBox::new(
            MockDevice {
                dev: Opaque::zeroed(),
                flags,
            },
            GFP_KERNEL,
        )?;
        let raw = KBox::into_raw(mdev);
        // SAFETY: `raw` is a valid `MockDevice`.
        let dev = unsafe { (*raw).dev.get() };
        // SAFETY: `dev` is zeroed memory for a device; once initialised its memory belongs
        // to its reference count, released by `mock_dev_release`.
        unsafe {
            bindings::device_initialize(dev);
            (*dev).release = Some(mock_dev_release);
            (*dev).bus = MOCK_BUS.get();
        }
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `dev` is initialised; the format takes one unsigned int.
        let rc = unsafe { bindings::dev_set_name(dev, c"iommufd_mock%u".as_char_ptr(), id) };
        let rc = if rc == 0 {
            // SAFETY: The device is initialised and named; the IOMMU is registered.
            unsafe { bindings::iommu_mock_device_add(dev, MOCK_IOMMU.get()) }
        } else {
            rc
        };
        if rc != 0 {
            // SAFETY: Drops the initial reference; the release callback frees the memory.
            unsafe { bindings::put_device(dev) };
            return Err(Error::from_errno(rc));
        }
        // SAFETY: `dev` is valid; `get_device` takes a reference of its own for the
        // `ARef`, and the initial one is dropped by `device_unregister` in `drop`.
        let dev = unsafe { Device::get_device(dev) };
        Ok(Self { dev })
    }

    /// The device.
    pub(crate) fn device(&self) -> &Device {
        &self.dev
    }
}

impl Drop for MockDev {
    fn drop(&mut self) {
        let raw: *const Device = &*self.dev;
        // SAFETY: By the type invariant the device was added and we hold its initial
        // reference, which this drops. `Device` wraps `struct device` transparently.
        unsafe { bindings::device_unregister(raw.cast_mut().cast()) };
    }
}
