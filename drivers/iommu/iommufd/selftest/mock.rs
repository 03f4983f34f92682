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
    sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering},
};
use kernel::{
    bindings, device::Device, error::to_result, prelude::*, sync::aref::ARef, types::Opaque, uapi,
};

use kernel::sync::Mutex;

use crate::driver::viommu::DriverViommu;

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

/// The mock IOMMU's IO page fault queue, while the module is loaded.
static IOPF_QUEUE: AtomicPtr<bindings::iopf_queue> = AtomicPtr::new(null_mut());

/// Starts delivering the IO page faults of `dev` when it attaches to `domain`, if the
/// domain handles faults: the first such attachment adds the device to the mock's fault
/// queue (C's `mock_dev_enable_iopf`).
///
/// # Safety
///
/// `dev` is a mock device and `domain` null or valid; the caller holds the group's mutex,
/// which serialises the device's attachments.
unsafe fn enable_iopf(dev: *mut bindings::device, domain: *mut bindings::iommu_domain) -> Result {
    // SAFETY: As the caller guarantees.
    if domain.is_null() || unsafe { (*domain).iopf_handler }.is_none() {
        return Ok(());
    }
    let queue = IOPF_QUEUE.load(Ordering::Relaxed);
    if queue.is_null() {
        return Err(ENODEV);
    }
    // SAFETY: A mock device.
    let mdev = unsafe { to_mock_dev(dev) };
    if mdev.iopf_users.load(Ordering::Relaxed) == 0 {
        // SAFETY: The queue lives while the module does; `dev` is valid.
        to_result(unsafe { bindings::iopf_queue_add_device(queue, dev) })?;
    }
    mdev.iopf_users.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Undoes [`enable_iopf`] when `dev` leaves `domain`.
///
/// # Safety
///
/// As for [`enable_iopf`], for an attachment `enable_iopf` accepted.
unsafe fn disable_iopf(dev: *mut bindings::device, domain: *mut bindings::iommu_domain) {
    // SAFETY: As the caller guarantees.
    if domain.is_null() || unsafe { (*domain).iopf_handler }.is_none() {
        return;
    }
    // SAFETY: A mock device.
    let mdev = unsafe { to_mock_dev(dev) };
    if mdev.iopf_users.fetch_sub(1, Ordering::Relaxed) == 1 {
        // SAFETY: Added by `enable_iopf`.
        unsafe { bindings::iopf_queue_remove_device(IOPF_QUEUE.load(Ordering::Relaxed), dev) };
    }
}

/// Attaches a mock device's RID to a domain of the mock (blocking, paging or nested): no
/// hardware to program, but a device without dirty tracking cannot use a domain that
/// tracks, and faults start or stop being delivered (C's `mock_domain_nop_attach`).
///
/// # Safety
///
/// Called by the iommu core (`iommu_domain_ops::attach_dev`) with a valid domain and a
/// mock device, under the group's mutex.
unsafe extern "C" fn mock_attach(
    domain: *mut bindings::iommu_domain,
    dev: *mut bindings::device,
    _old: *mut bindings::iommu_domain,
) -> c_int {
    // SAFETY: The caller passes a valid domain and a mock device.
    let (tracks, mdev) = unsafe { (!(*domain).dirty_ops.is_null(), to_mock_dev(dev)) };
    if tracks && mdev.flags & uapi::MOCK_FLAGS_DEVICE_NO_DIRTY != 0 {
        return EINVAL.to_errno();
    }
    // A nested domain of a vIOMMU translates for the vIOMMU's devices only.
    let mut vdev_id = 0;
    // SAFETY: The caller passes a valid domain; a nested one of the mock is a `MockNested`
    // whose vIOMMU (if any) outlives it.
    unsafe {
        if (*domain).type_ == bindings::IOMMU_DOMAIN_NESTED {
            let viommu = (*domain.cast::<MockNested>()).viommu;
            if !viommu.is_null() {
                let rc = bindings::iommufd_viommu_get_vdev_id(viommu, dev, &mut vdev_id);
                if rc != 0 {
                    return rc;
                }
            }
        }
    }
    // SAFETY: As above, under the group's mutex.
    if let Err(e) = unsafe { enable_iopf(dev, domain) } {
        return e.to_errno();
    }
    mdev.vdev_id.store(vdev_id as u64, Ordering::Relaxed);
    let old = mdev.domain.swap(domain, Ordering::Relaxed);
    // SAFETY: `old` is the domain the device was attached to, accepted by this function.
    unsafe { disable_iopf(dev, old) };
    0
}

/// Attaches a PASID of a mock device to a domain (C's `mock_domain_set_dev_pasid_nop`).
///
/// For PASID 1024 it fails every other attach to a non-blocking domain with `ENOMEM`, so
/// that the tests reach the core's roll back of a failed replace: the first attach arms
/// the failure, the next fails (and disarms it), blocking disarms it.
///
/// # Safety
///
/// Called by the iommu core (`iommu_domain_ops::set_dev_pasid`) with a valid domain, a
/// mock device, and the old domain (null or valid), under the group's mutex.
unsafe extern "C" fn mock_set_dev_pasid(
    domain: *mut bindings::iommu_domain,
    dev: *mut bindings::device,
    pasid: bindings::ioasid_t,
    old: *mut bindings::iommu_domain,
) -> c_int {
    // SAFETY: The caller passes a valid domain and a mock device.
    let (blocking, mdev) = unsafe {
        (
            (*domain).type_ == bindings::IOMMU_DOMAIN_BLOCKED,
            to_mock_dev(dev),
        )
    };
    if pasid == 1024 {
        if blocking {
            mdev.pasid_1024_fake_error.store(false, Ordering::Relaxed);
        } else if mdev.pasid_1024_fake_error.swap(false, Ordering::Relaxed) {
            return ENOMEM.to_errno();
        } else {
            mdev.pasid_1024_fake_error.store(true, Ordering::Relaxed);
        }
    }
    // SAFETY: As above, under the group's mutex.
    if let Err(e) = unsafe { enable_iopf(dev, domain) } {
        return e.to_errno();
    }
    // SAFETY: `old` is the PASID's previous domain, accepted by this function.
    unsafe { disable_iopf(dev, old) };
    0
}

static BLOCKING_OPS: Shared<bindings::iommu_domain_ops> = Shared::new(bindings::iommu_domain_ops {
    attach_dev: Some(mock_attach),
    set_dev_pasid: Some(mock_set_dev_pasid),
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
    /// The device's cache entries, which a vIOMMU's invalidations clear.
    cache: [AtomicU32; uapi::MOCK_DEV_CACHE_NUM as usize],
    /// Armed by an attach of PASID 1024: the next one fails (see [`mock_set_dev_pasid`]).
    pasid_1024_fake_error: AtomicBool,
    /// Attachments to domains that handle faults (the device is on the fault queue while
    /// non-zero); changed under the group's mutex.
    iopf_users: AtomicU32,
    /// The domain the RID is attached to; changed under the group's mutex.
    domain: AtomicPtr<bindings::iommu_domain>,
    /// The virtual ID of the device in the vIOMMU of the nested domain its RID is attached
    /// to, latched at the attach as the hardware's table would hold it (C's
    /// `mock_dev::vdev_id`); 0 when not attached through a vIOMMU.
    vdev_id: AtomicU64,
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

/// The mock device behind `dev`, if it is one.
fn as_mock(dev: &Device) -> Option<&MockDevice> {
    let raw = crate::kapi::raw_device(dev);
    // SAFETY: `dev` is a valid device.
    if !unsafe { on_mock_bus(raw) } {
        return None;
    }
    // SAFETY: A mock device, valid while `dev` is.
    Some(unsafe { to_mock_dev(raw) })
}

/// Whether the cache entry `id` of the mock device `dev` holds `value`.
///
/// # Errors
///
/// `EINVAL` if `dev` is not a mock device, `id` is out of range, or the entry differs.
pub(crate) fn check_cache(dev: &Device, id: u32, value: u32) -> Result {
    let mdev = as_mock(dev).ok_or(EINVAL)?;
    let entry = mdev.cache.get(id as usize).ok_or(EINVAL)?;
    if entry.load(Ordering::Relaxed) == value {
        Ok(())
    } else {
        Err(EINVAL)
    }
}

/// The virtual ID the mock device `dev` latched when its RID attached to a nested domain
/// of a vIOMMU (0 if it did not): what the mock reports events with, as C's, even after
/// the vDEVICE is gone.
///
/// # Errors
///
/// `EINVAL` if `dev` is not a mock device.
pub(crate) fn latched_vdev_id(dev: &Device) -> Result<u64> {
    Ok(as_mock(dev).ok_or(EINVAL)?.vdev_id.load(Ordering::Relaxed))
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
    /// Whether dirty tracking is on (`set_dirty_tracking`).
    dirty_tracking: AtomicBool,
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

/// Turns dirty tracking of a mock paging domain on or off.
///
/// # Safety
///
/// Called by the iommu core (`iommu_dirty_ops::set_dirty_tracking`) with a mock paging
/// domain.
unsafe extern "C" fn mock_set_dirty_tracking(
    domain: *mut bindings::iommu_domain,
    enable: bool,
) -> c_int {
    // SAFETY: The caller passes a mock paging domain, the start of a `MockDomain`.
    let mock = unsafe { &*domain.cast::<MockDomain>() };
    mock.dirty_tracking.store(enable, Ordering::Relaxed);
    0
}

/// The dirty tracking of the mock's paging domains: the page table library's, with the
/// mock's switch.
static DIRTY_OPS: Shared<bindings::iommu_dirty_ops> = Shared::new(bindings::iommu_dirty_ops {
    set_dirty_tracking: Some(mock_set_dirty_tracking),
    read_and_clear_dirty: Some(bindings::pt_iommu_amdv1_mock_read_and_clear_dirty),
});

/// Marks IOVA of a mock paging domain as written by a device, as the hardware would
/// (`IOMMU_TEST_OP_DIRTY`).
pub(crate) struct DirtyMarker<'a> {
    mock: &'a MockDomain,
    set: unsafe extern "C" fn(*mut bindings::pt_iommu, bindings::dma_addr_t) -> c_int,
}

impl<'a> DirtyMarker<'a> {
    /// A marker for `domain`.
    ///
    /// # Errors
    ///
    /// `EINVAL` if `domain` is not a mock paging domain with dirty tracking on.
    pub(crate) fn new(domain: &'a kernel::iommu::domain::Domain) -> Result<Self> {
        if !is_mock_paging(domain) {
            return Err(EINVAL);
        }
        // SAFETY: A mock paging domain is the start of a `MockDomain`, valid while
        // `domain` is.
        let mock = unsafe { &*domain.as_raw().cast::<MockDomain>() };
        if !mock.dirty_tracking.load(Ordering::Relaxed) {
            return Err(EINVAL);
        }
        // SAFETY: An initialised table has its format's ops.
        let set = unsafe { (*mock.pt.iommu.ops).set_dirty }.ok_or(EINVAL)?;
        Ok(Self { mock, set })
    }

    /// Marks the page at `iova` dirty; IOVA that is not mapped is ignored, as in C.
    pub(crate) fn mark(&self, iova: u64) {
        let iommu = (&raw const self.mock.pt.iommu).cast_mut();
        // SAFETY: The table is valid; the library serialises its own updates of an entry.
        unsafe { (self.set)(iommu, iova) };
    }
}

/// The operations of the mock's paging domains.
const fn paging_ops() -> bindings::iommu_domain_ops {
    bindings::iommu_domain_ops {
        attach_dev: Some(mock_attach),
        set_dev_pasid: Some(mock_set_dev_pasid),
        iova_to_phys: Some(bindings::pt_iommu_amdv1_mock_iova_to_phys),
        iotlb_sync: Some(mock_iotlb_sync),
        free: Some(mock_domain_free),
        ..zeroed()
    }
}

/// The operations of the mock's default paging domains.
static PAGING_OPS: Shared<bindings::iommu_domain_ops> = Shared::new(paging_ops());

/// The operations of the mock's huge-page paging domains (`MOCK_IOMMUPT_HUGE`): the same
/// table at another address, which tells the two kinds apart.
static PAGING_HUGE_OPS: Shared<bindings::iommu_domain_ops> = Shared::new(paging_ops());

/// Whether `domain` is a paging domain of the mock IOMMU.
pub(crate) fn is_mock_paging(domain: &kernel::iommu::domain::Domain) -> bool {
    domain.domain_type() == bindings::IOMMU_DOMAIN_UNMANAGED
        && (domain.has_ops(PAGING_OPS.get()) || domain.has_ops(PAGING_HUGE_OPS.get()))
}

/// What the user asks of a mock paging domain (`struct iommu_hwpt_selftest`).
fn read_user_cfg(data: &bindings::iommu_user_data) -> Result<uapi::iommu_hwpt_selftest> {
    // The first version of the struct ends after `iotlb`.
    let bytes = copy_user_data::<8>(data, uapi::IOMMU_HWPT_DATA_SELFTEST, 4)?;
    Ok(uapi::iommu_hwpt_selftest {
        iotlb: word(&bytes, 0),
        pagetable_type: word(&bytes, 1),
    })
}

/// The bytes of the user's driver data, read as `iommu_copy_struct_from_user()` does: the
/// type must be `ty`, and the length at least `min_len` (the struct's first version) and
/// at most `N` (the kernel's struct); the rest is zero.
fn copy_user_data<const N: usize>(
    data: &bindings::iommu_user_data,
    ty: u32,
    min_len: usize,
) -> Result<[u8; N]> {
    if data.type_ != ty || data.len < min_len || data.len > N {
        return Err(EINVAL);
    }
    let mut bytes = [0u8; N];
    crate::ucmd::copy_struct_from_user(
        &mut bytes,
        kernel::uaccess::UserPtr::from_addr(data.uptr as usize),
        data.len,
    )?;
    Ok(bytes)
}

/// Allocates a paging domain in the AMDv1 mock format, of the page table type `cfg` asks.
fn alloc_paging(
    dev: *mut bindings::device,
    flags: u32,
    cfg: &uapi::iommu_hwpt_selftest,
) -> Result<*mut bindings::iommu_domain> {
    let dirty_flag = uapi::iommufd_hwpt_alloc_flags_IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
    let paging_flags = dirty_flag
        | uapi::iommufd_hwpt_alloc_flags_IOMMU_HWPT_ALLOC_NEST_PARENT
        | uapi::iommufd_hwpt_alloc_flags_IOMMU_HWPT_ALLOC_PASID;
    // SAFETY: The core calls us for devices we probed: mock devices.
    let mdev = unsafe { to_mock_dev(dev) };
    let dirty = flags & dirty_flag != 0;
    if flags & !paging_flags != 0 || (dirty && mdev.flags & uapi::MOCK_FLAGS_DEVICE_NO_DIRTY != 0) {
        return Err(EOPNOTSUPP);
    }
    let huge = match cfg.pagetable_type {
        uapi::MOCK_IOMMUPT_DEFAULT => false,
        uapi::MOCK_IOMMUPT_HUGE => true,
        _ => return Err(EOPNOTSUPP),
    };
    let mut mock = KBox::new(
        MockDomain {
            pt: zeroed(),
            dirty_tracking: AtomicBool::new(false),
        },
        GFP_KERNEL,
    )?;
    let domain = &mut mock.pt.iommu.domain;
    domain.type_ = bindings::IOMMU_DOMAIN_UNMANAGED;
    domain.ops = if huge {
        PAGING_HUGE_OPS.get()
    } else {
        PAGING_OPS.get()
    };
    mock.pt.iommu.nid = bindings::NUMA_NO_NODE;
    let pt_cfg = bindings::pt_iommu_amdv1_cfg {
        common: bindings::pt_iommu_cfg {
            features: 0,
            // The mock format: 2 KiB pages.
            hw_max_vasz_lg2: 56,
            hw_max_oasz_lg2: 51,
        },
        starting_level: 2,
    };
    // SAFETY: `mock.pt` is zeroed memory for the table, `pt_cfg` is valid for the call.
    let rc =
        unsafe { bindings::pt_iommu_amdv1_mock_init(&mut mock.pt, &pt_cfg, bindings::GFP_KERNEL) };
    if rc != 0 {
        // Nothing to deinit: init failed.
        return Err(Error::from_errno(rc));
    }
    let domain = &mut mock.pt.iommu.domain;
    if dirty {
        domain.dirty_ops = DIRTY_OPS.get();
    }
    if huge {
        // Only huge pages, but the domain must take CPU pages to suit iommufd.
        domain.pgsize_bitmap = (uapi::MOCK_HUGE_PAGE_SIZE as usize) | kernel::page::PAGE_SIZE;
    } else {
        // The aperture the tests expect.
        domain.geometry.aperture_start = u64::from(uapi::MOCK_APERTURE_START);
        domain.geometry.aperture_end = u64::from(uapi::MOCK_APERTURE_LAST);
    }
    // INVARIANT: Freed by `mock_domain_free`, through the ops just set.
    Ok(KBox::into_raw(mock).cast())
}

/// Allocates a paging domain (`iommu_ops::domain_alloc_paging_flags`).
///
/// # Safety
///
/// Called by the iommu core with a mock device it probed, and `user_data` null or valid.
unsafe extern "C" fn mock_domain_alloc_paging_flags(
    dev: *mut bindings::device,
    flags: u32,
    user_data: *const bindings::iommu_user_data,
) -> *mut bindings::iommu_domain {
    let cfg = if user_data.is_null() {
        Ok(uapi::iommu_hwpt_selftest {
            iotlb: 0,
            pagetable_type: uapi::MOCK_IOMMUPT_DEFAULT,
        })
    } else {
        // SAFETY: The caller passes valid data.
        let data = unsafe { &*user_data };
        if data.type_ != uapi::IOMMU_HWPT_DATA_SELFTEST
            && data.type_ != uapi::iommu_hwpt_data_type_IOMMU_HWPT_DATA_NONE
        {
            return EOPNOTSUPP.to_ptr();
        }
        read_user_cfg(data)
    };
    match cfg.and_then(|cfg| alloc_paging(dev, flags, &cfg)) {
        Ok(domain) => domain,
        Err(e) => e.to_ptr(),
    }
}

/// The nested domains of the mock IOMMU, with a mock IOTLB that user invalidations clear.
///
/// # Invariants
///
/// `domain` is the first field, so the core's `iommu_domain` converts back to its
/// `MockNested`. Allocated by [`mock_domain_alloc_nested`] from a `KBox`, freed by
/// [`mock_nested_free`].
#[repr(C)]
struct MockNested {
    domain: bindings::iommu_domain,
    iotlb: [AtomicU32; uapi::MOCK_NESTED_DOMAIN_IOTLB_NUM as usize],
    /// The vIOMMU the domain was made on, null if made on a paging domain.
    viommu: *mut bindings::iommufd_viommu,
}

/// Frees a mock nested domain.
///
/// # Safety
///
/// Called by the iommu core, once, with a domain of [`NESTED_OPS`] nothing uses any more.
unsafe extern "C" fn mock_nested_free(domain: *mut bindings::iommu_domain) {
    // SAFETY: By the type invariant the domain is the start of a `MockNested` we
    // allocated from a `KBox`.
    drop(unsafe { KBox::from_raw(domain.cast::<MockNested>()) });
}

/// Handles the user's invalidation requests for a mock nested domain: each clears one
/// IOTLB entry, or all with `IOMMU_TEST_INVALIDATE_FLAG_ALL` (C's
/// `mock_domain_cache_invalidate_user`). On return `entry_num` is the requests handled.
///
/// # Safety
///
/// Called by the iommu core with a domain of [`NESTED_OPS`] and a valid array.
unsafe extern "C" fn mock_nested_invalidate(
    domain: *mut bindings::iommu_domain,
    array: *mut bindings::iommu_user_data_array,
) -> c_int {
    // SAFETY: By the caller's guarantee.
    let (mock, array) = unsafe { (&*domain.cast::<MockNested>(), &mut *array) };
    let mut done = 0;
    let r = (|| -> Result {
        if array.type_ != uapi::IOMMU_HWPT_INVALIDATE_DATA_SELFTEST {
            return Err(EINVAL);
        }
        while done < array.entry_num {
            let inv = read_user_entry(array, done)?;
            if inv.flags & !uapi::IOMMU_TEST_INVALIDATE_FLAG_ALL != 0 {
                return Err(EOPNOTSUPP);
            }
            if inv.iotlb_id > uapi::MOCK_NESTED_DOMAIN_IOTLB_ID_MAX {
                return Err(EINVAL);
            }
            clear_entries(&mock.iotlb, inv.flags, inv.iotlb_id);
            done += 1;
        }
        Ok(())
    })();
    array.entry_num = done;
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Entry `index` of the user's invalidation array, as `iommu_copy_struct_from_user_array`
/// reads it: an entry may not be longer than the kernel's struct, nor shorter than its
/// first version (up to `iotlb_id`, which is all of it).
fn read_user_entry(
    array: &bindings::iommu_user_data_array,
    index: u32,
) -> Result<uapi::iommu_hwpt_invalidate_selftest> {
    const SIZE: usize = core::mem::size_of::<uapi::iommu_hwpt_invalidate_selftest>();
    if array.entry_len != SIZE {
        return Err(EINVAL);
    }
    let bytes = array_entry::<SIZE>(array, index as usize)?;
    Ok(uapi::iommu_hwpt_invalidate_selftest {
        flags: word(&bytes, 0),
        iotlb_id: word(&bytes, 1),
    })
}

/// The bytes of entry `index` of a user array, read as `copy_struct_from_user` does (a
/// shorter entry is zero-extended, a longer one must end in zeroes).
fn array_entry<const N: usize>(
    array: &bindings::iommu_user_data_array,
    index: usize,
) -> Result<[u8; N]> {
    let at = (array.uptr as usize)
        .checked_add(array.entry_len.checked_mul(index).ok_or(EINVAL)?)
        .ok_or(EINVAL)?;
    let mut bytes = [0u8; N];
    crate::ucmd::copy_struct_from_user(
        &mut bytes,
        kernel::uaccess::UserPtr::from_addr(at),
        array.entry_len,
    )?;
    Ok(bytes)
}

/// The `i`-th `u32` of `bytes`.
fn word(bytes: &[u8], i: usize) -> u32 {
    let k = i * 4;
    u32::from_ne_bytes([bytes[k], bytes[k + 1], bytes[k + 2], bytes[k + 3]])
}

/// Clears entry `id` of a mock cache (an IOTLB, a device cache), or all of them if
/// `flags` has `IOMMU_TEST_INVALIDATE_FLAG_ALL`; `id` was checked.
fn clear_entries(entries: &[AtomicU32], flags: u32, id: u32) {
    if flags & uapi::IOMMU_TEST_INVALIDATE_FLAG_ALL != 0 {
        for e in entries {
            e.store(0, Ordering::Relaxed);
        }
    } else if let Some(e) = entries.get(id as usize) {
        e.store(0, Ordering::Relaxed);
    }
}

/// The operations of the mock's nested domains.
static NESTED_OPS: Shared<bindings::iommu_domain_ops> = Shared::new(bindings::iommu_domain_ops {
    attach_dev: Some(mock_attach),
    set_dev_pasid: Some(mock_set_dev_pasid),
    cache_invalidate_user: Some(mock_nested_invalidate),
    free: Some(mock_nested_free),
    ..zeroed()
});

/// Allocates a nested domain on a mock paging domain (`iommu_ops::domain_alloc_nested`);
/// its IOTLB entries start at the value the user's `struct iommu_hwpt_selftest` gives.
///
/// # Safety
///
/// Called by the iommu core (or iommufd) with a mock device, a valid parent domain and
/// valid user data.
unsafe extern "C" fn mock_domain_alloc_nested(
    _dev: *mut bindings::device,
    parent: *mut bindings::iommu_domain,
    flags: u32,
    user_data: *const bindings::iommu_user_data,
) -> *mut bindings::iommu_domain {
    if flags & !uapi::iommufd_hwpt_alloc_flags_IOMMU_HWPT_ALLOC_PASID != 0 {
        return EOPNOTSUPP.to_ptr();
    }
    // SAFETY: The caller passes a valid parent.
    if parent.is_null() || unsafe { (*parent).type_ } & bindings::__IOMMU_DOMAIN_PAGING == 0 {
        return EINVAL.to_ptr();
    }
    // SAFETY: The caller passes valid data.
    alloc_nested(unsafe { &*user_data }, null_mut())
}

/// A nested domain for the user's `struct iommu_hwpt_selftest` (C's
/// `__mock_domain_alloc_nested`), on `viommu` if not null; as an error pointer on failure.
fn alloc_nested(
    data: &bindings::iommu_user_data,
    viommu: *mut bindings::iommufd_viommu,
) -> *mut bindings::iommu_domain {
    if data.type_ != uapi::IOMMU_HWPT_DATA_SELFTEST {
        return EOPNOTSUPP.to_ptr();
    }
    let cfg = match read_user_cfg(data) {
        Ok(cfg) => cfg,
        Err(e) => return e.to_ptr(),
    };
    let mock = KBox::new(
        MockNested {
            domain: bindings::iommu_domain {
                type_: bindings::IOMMU_DOMAIN_NESTED,
                ops: NESTED_OPS.get(),
                ..zeroed()
            },
            iotlb: [const { AtomicU32::new(0) }; uapi::MOCK_NESTED_DOMAIN_IOTLB_NUM as usize],
            viommu,
        },
        GFP_KERNEL,
    );
    let Ok(mock) = mock else {
        return ENOMEM.to_ptr();
    };
    for e in &mock.iotlb {
        e.store(cfg.iotlb, Ordering::Relaxed);
    }
    // INVARIANT: Freed by `mock_nested_free`, through the ops just set.
    KBox::into_raw(mock).cast()
}

/// Checks IOTLB entry `id` of the mock nested domain `domain` against `value`
/// (`IOMMU_TEST_OP_MD_CHECK_IOTLB`).
///
/// # Errors
///
/// `EINVAL` if `domain` is not a mock nested domain, `id` is out of range, or the entry
/// differs.
pub(crate) fn check_iotlb(domain: &kernel::iommu::domain::Domain, id: u32, value: u32) -> Result {
    if domain.domain_type() != bindings::IOMMU_DOMAIN_NESTED || !domain.has_ops(NESTED_OPS.get()) {
        return Err(EINVAL);
    }
    // SAFETY: A mock nested domain is the start of a `MockNested`, valid while `domain` is.
    let mock = unsafe { &*domain.as_raw().cast::<MockNested>() };
    let entry = mock.iotlb.get(id as usize).ok_or(EINVAL)?;
    if entry.load(Ordering::Relaxed) == value {
        Ok(())
    } else {
        Err(EINVAL)
    }
}

/// Reports a page request of `dev` to the iommu core, as the hardware would
/// (`IOMMU_TEST_OP_TRIGGER_IOPF`): one fault, the last of group `grpid`.
///
/// # Errors
///
/// `EINVAL` if `dev` is not a mock device.
pub(crate) fn trigger_iopf(dev: &Device, pasid: u32, grpid: u32, perm: u32, addr: u64) -> Result {
    as_mock(dev).ok_or(EINVAL)?;
    let mut evt: bindings::iopf_fault = zeroed();
    evt.fault.type_ = bindings::iommu_fault_type_IOMMU_FAULT_PAGE_REQ;
    let mut flags = bindings::IOMMU_FAULT_PAGE_REQUEST_LAST_PAGE;
    if pasid != 0 {
        flags |= bindings::IOMMU_FAULT_PAGE_REQUEST_PASID_VALID;
    }
    evt.fault.prm = bindings::iommu_fault_page_request {
        flags,
        pasid,
        grpid,
        perm,
        addr,
        ..zeroed()
    };
    // SAFETY: `dev` is a valid device and `evt` valid for the call (the core copies it).
    // Like C, the result is not reported: an unhandled fault is answered by the core.
    let _ = unsafe { bindings::iommu_report_device_fault(crate::kapi::raw_device(dev), &mut evt) };
    Ok(())
}

/// The mock's vIOMMU: C's `struct iommufd_viommu` first, as drivers lay it out.
///
/// # Invariants
///
/// `core` is at offset 0; iommufd allocates and frees the structure, the mock
/// initialises it in [`mock_viommu_init`].
#[repr(C)]
struct MockViommu {
    core: bindings::iommufd_viommu,
    /// The nest parent's domain (a mock paging domain).
    s2_parent: *mut bindings::iommu_domain,
    /// Its HW queues by index (addresses of `MockHwQueue`s, 0 for none); initialised by
    /// [`mock_viommu_init`].
    queues: Mutex<[usize; uapi::IOMMU_TEST_HW_QUEUE_MAX as usize]>,
    /// Two pages user space maps (null without user data), and their mmap offset.
    page: *mut bindings::page,
    mmap_offset: usize,
}

/// The pages of a mock vIOMMU's mmap region.
const MMAP_ORDER: u32 = 1;
const MMAP_LEN: usize = kernel::page::PAGE_SIZE << MMAP_ORDER;

/// Reads the user's `struct iommu_viommu_selftest`, as `iommu_copy_struct_from_user` does
/// (the type is the vIOMMU type; at least up to `out_data`).
fn read_viommu_data(data: &bindings::iommu_user_data) -> Result<uapi::iommu_viommu_selftest> {
    const SIZE: usize = core::mem::size_of::<uapi::iommu_viommu_selftest>();
    let bytes = copy_user_data::<SIZE>(data, uapi::IOMMU_VIOMMU_TYPE_SELFTEST, 8)?;
    Ok(uapi::iommu_viommu_selftest {
        in_data: word(&bytes, 0),
        out_data: word(&bytes, 1),
        out_mmap_offset: 0,
        out_mmap_length: 0,
    })
}

/// Writes `out` back to the user's data, as `iommu_copy_struct_to_user` does (as many
/// bytes as the user gave).
fn write_viommu_data(
    data: &bindings::iommu_user_data,
    out: &uapi::iommu_viommu_selftest,
) -> Result {
    let mut bytes = [0u8; core::mem::size_of::<uapi::iommu_viommu_selftest>()];
    bytes[0..4].copy_from_slice(&out.in_data.to_ne_bytes());
    bytes[4..8].copy_from_slice(&out.out_data.to_ne_bytes());
    bytes[8..16].copy_from_slice(&out.out_mmap_offset.to_ne_bytes());
    bytes[16..24].copy_from_slice(&out.out_mmap_length.to_ne_bytes());
    let mut w = kernel::uaccess::UserSlice::new(
        kernel::uaccess::UserPtr::from_addr(data.uptr as usize),
        data.len,
    )
    .writer();
    w.write_slice(&bytes[..data.len.min(bytes.len())])
}

/// With user data, gives the mock vIOMMU two zeroed pages holding the user's `in_data`,
/// exposed for `mmap()`, and answers `out_data` (a loopback of `in_data`) and the
/// region's offset and length.
///
/// # Safety
///
/// `mock` is a mock vIOMMU whose core part iommufd filled.
unsafe fn setup_viommu_mmap(mock: *mut MockViommu, data: &bindings::iommu_user_data) -> Result {
    let mut cfg = read_viommu_data(data)?;
    // SAFETY: Plain allocation.
    let page =
        unsafe { bindings::alloc_pages(bindings::GFP_KERNEL | bindings::__GFP_ZERO, MMAP_ORDER) };
    if page.is_null() {
        return Err(ENOMEM);
    }
    // SAFETY: `page` is ours; its first page is mapped for the write.
    unsafe {
        let va = bindings::kmap_local_page(page).cast::<u32>();
        va.write(cfg.in_data);
        bindings::kunmap_local(va.cast());
    }
    // SAFETY: `page_to_pfn` computes with the pointer only.
    let phys = (unsafe { bindings::page_to_pfn(page) } as u64) << kernel::page::PAGE_SHIFT;
    let mut offset = 0;
    // SAFETY: By the caller's guarantee the core part names the vIOMMU's context (C's
    // `iommufd_viommu_alloc_mmap()`).
    let rc = unsafe {
        let core = &raw mut (*mock).core;
        bindings::_iommufd_alloc_mmap(
            (*core).ictx,
            &raw mut (*core).obj,
            phys,
            MMAP_LEN,
            &mut offset,
        )
    };
    if let Err(e) = kernel::error::to_result(rc) {
        // SAFETY: Allocated above, never shared.
        unsafe { bindings::__free_pages(page, MMAP_ORDER) };
        return Err(e);
    }
    cfg.out_data = cfg.in_data;
    cfg.out_mmap_offset = offset as u64;
    cfg.out_mmap_length = MMAP_LEN as u64;
    if let Err(e) = write_viommu_data(data, &cfg) {
        // SAFETY: As above, for the region made above.
        unsafe { destroy_viommu_mmap(mock, offset) };
        // SAFETY: The region is gone and nothing mapped it yet.
        unsafe { bindings::__free_pages(page, MMAP_ORDER) };
        return Err(e);
    }
    // SAFETY: The mock vIOMMU is ours to set up.
    unsafe {
        (*mock).page = page;
        (*mock).mmap_offset = offset;
    }
    Ok(())
}

/// Removes the region at `offset` of [`setup_viommu_mmap`] (C's
/// `iommufd_viommu_destroy_mmap()`).
///
/// # Safety
///
/// `mock` is a live mock vIOMMU, owner of that region.
unsafe fn destroy_viommu_mmap(mock: *mut MockViommu, offset: usize) {
    // SAFETY: By the caller's guarantee.
    unsafe {
        let core = &raw mut (*mock).core;
        bindings::_iommufd_destroy_mmap((*core).ictx, &raw mut (*core).obj, offset);
    }
}

/// Releases what [`mock_viommu_init`] set up (`iommufd_viommu_ops::destroy`).
///
/// # Safety
///
/// Called by iommufd, once, with an initialised mock vIOMMU.
unsafe extern "C" fn mock_viommu_destroy(viommu: *mut bindings::iommufd_viommu) {
    let mock = viommu.cast::<MockViommu>();
    // SAFETY: By the caller's guarantee.
    unsafe {
        if !(*mock).page.is_null() {
            destroy_viommu_mmap(mock, (*mock).mmap_offset);
            // The region is gone, and no mapping holds the vIOMMU: nothing maps the pages.
            bindings::__free_pages((*mock).page, MMAP_ORDER);
        }
    }
}

/// A HW queue of the mock vIOMMU: C's `struct iommufd_hw_queue` first.
#[repr(C)]
struct MockHwQueue {
    core: bindings::iommufd_hw_queue,
    /// The queue at the index below, which this one depends on (null for index 0).
    prev: *mut MockHwQueue,
    index: u32,
}

/// The size of the mock's HW queue of `type_` (`iommufd_viommu_ops::get_hw_queue_size`).
///
/// # Safety
///
/// Called by iommufd with an initialised mock vIOMMU.
unsafe extern "C" fn mock_get_hw_queue_size(
    _viommu: *mut bindings::iommufd_viommu,
    type_: bindings::iommu_hw_queue_type,
) -> usize {
    if type_ == uapi::IOMMU_HW_QUEUE_TYPE_SELFTEST {
        core::mem::size_of::<MockHwQueue>()
    } else {
        0
    }
}

/// Sets up a HW queue at `index` (`iommufd_viommu_ops::hw_queue_init_phys`): queues are
/// added from index 0 up, each depending on the one below, and the physical address iommufd
/// computed must be what the nest parent translates the queue's IOVA to.
///
/// # Safety
///
/// Called by iommufd with a `MockHwQueue` whose core part is filled, of a live mock
/// vIOMMU.
unsafe extern "C" fn mock_hw_queue_init_phys(
    hw_queue: *mut bindings::iommufd_hw_queue,
    index: u32,
    base_addr_pa: bindings::phys_addr_t,
) -> c_int {
    let mock = hw_queue.cast::<MockHwQueue>();
    // SAFETY: By the caller's guarantee.
    let (viommu, base) = unsafe {
        (
            &*(*hw_queue).viommu.cast::<MockViommu>(),
            (*hw_queue).base_addr,
        )
    };
    if index >= uapi::IOMMU_TEST_HW_QUEUE_MAX {
        return EINVAL.to_errno();
    }
    let mut queues = viommu.queues.lock();
    if queues[index as usize] != 0 {
        return EEXIST.to_errno();
    }
    let prev = if index > 0 {
        let prev = queues[index as usize - 1] as *mut MockHwQueue;
        if prev.is_null() {
            return EIO.to_errno();
        }
        prev
    } else {
        null_mut()
    };
    // SAFETY: The parent domain is valid while the vIOMMU is.
    if base_addr_pa != unsafe { bindings::iommu_iova_to_phys(viommu.s2_parent, base) } {
        return EFAULT.to_errno();
    }
    if !prev.is_null() {
        // SAFETY: Both are live queues of this vIOMMU (a listed queue removes itself in
        // its destroy, under the lock held here).
        // C's `iommufd_hw_queue_depend()`.
        // SAFETY: Both are queues of this vIOMMU, `prev` made first.
        let rc = unsafe {
            bindings::_iommufd_object_depend(&raw mut (*hw_queue).obj, &raw mut (*prev).core.obj)
        };
        if rc != 0 {
            return rc;
        }
    }
    // SAFETY: The queue is ours to set up.
    unsafe {
        (*mock).prev = prev;
        (*mock).index = index;
        (*hw_queue).destroy = Some(mock_hw_queue_destroy);
    }
    queues[index as usize] = mock as usize;
    0
}

/// Takes a mock HW queue out of its vIOMMU (`iommufd_hw_queue::destroy`).
///
/// # Safety
///
/// Called by iommufd, once, with a queue set up by [`mock_hw_queue_init_phys`].
unsafe extern "C" fn mock_hw_queue_destroy(hw_queue: *mut bindings::iommufd_hw_queue) {
    let mock = hw_queue.cast::<MockHwQueue>();
    // SAFETY: By the caller's guarantee the queue and its vIOMMU are live.
    let (viommu, prev, index) = unsafe {
        (
            &*(*hw_queue).viommu.cast::<MockViommu>(),
            (*mock).prev,
            (*mock).index,
        )
    };
    let mut queues = viommu.queues.lock();
    queues[index as usize] = 0;
    if !prev.is_null() {
        // SAFETY: The dependency was made by `mock_hw_queue_init_phys`; `prev` cannot be
        // destroyed before this queue, so it is live.
        unsafe {
            bindings::_iommufd_object_undepend(&raw mut (*hw_queue).obj, &raw mut (*prev).core.obj)
        };
    }
}

/// The size of the mock's vIOMMU for `type_` (`iommu_ops::get_viommu_size`), 0 for a type
/// it does not provide.
///
/// # Safety
///
/// Called by iommufd with a mock device.
unsafe extern "C" fn mock_get_viommu_size(
    _dev: *mut bindings::device,
    type_: bindings::iommu_viommu_type,
) -> usize {
    if type_ == uapi::IOMMU_VIOMMU_TYPE_SELFTEST {
        core::mem::size_of::<MockViommu>()
    } else {
        0
    }
}

/// Initialises a mock vIOMMU (`iommu_ops::viommu_init`); user data (`struct
/// iommu_viommu_selftest`) asks for a region shared with user space through `mmap()`.
///
/// # Safety
///
/// Called by iommufd with a zeroed `MockViommu` whose core part is filled, the parent's
/// valid domain, and `user_data` null or valid.
unsafe extern "C" fn mock_viommu_init(
    viommu: *mut bindings::iommufd_viommu,
    parent: *mut bindings::iommu_domain,
    user_data: *const bindings::iommu_user_data,
) -> c_int {
    let mock = viommu.cast::<MockViommu>();
    if !user_data.is_null() {
        // SAFETY: The back-pointer is set before `viommu_init`; the data is valid.
        if let Err(e) = unsafe { setup_viommu_mmap(mock, &*user_data) } {
            return e.to_errno();
        }
    }
    let init = kernel::new_mutex!([0; uapi::IOMMU_TEST_HW_QUEUE_MAX as usize]);
    // SAFETY: By the caller's guarantee `viommu` is the start of a zeroed `MockViommu`,
    // whose memory does not move until iommufd frees it (the lock needs nothing undone).
    let Ok(()) = unsafe { init.__pinned_init(&raw mut (*mock).queues) };
    // SAFETY: As above.
    unsafe {
        (*mock).s2_parent = parent;
        (*mock).core.ops = VIOMMU_OPS.get();
    }
    0
}

/// Allocates a nested domain of a mock vIOMMU (`iommufd_viommu_ops::alloc_domain_nested`).
///
/// # Safety
///
/// Called by iommufd with an initialised mock vIOMMU and valid user data.
unsafe extern "C" fn mock_viommu_alloc_domain_nested(
    viommu: *mut bindings::iommufd_viommu,
    flags: u32,
    user_data: *const bindings::iommu_user_data,
) -> *mut bindings::iommu_domain {
    if flags & !uapi::iommufd_hwpt_alloc_flags_IOMMU_HWPT_ALLOC_PASID != 0 {
        return EOPNOTSUPP.to_ptr();
    }
    // SAFETY: The caller passes valid data.
    alloc_nested(unsafe { &*user_data }, viommu)
}

/// Handles the user's invalidation requests for a mock vIOMMU: each clears a cache entry
/// (or all) of the device with a virtual ID (`iommufd_viommu_ops::cache_invalidate`). All
/// requests are read before any is handled, as C does; on return `entry_num` is the
/// requests handled.
///
/// # Safety
///
/// Called by iommufd with a live, initialised mock vIOMMU and a valid array.
unsafe extern "C" fn mock_viommu_cache_invalidate(
    viommu: *mut bindings::iommufd_viommu,
    array: *mut bindings::iommu_user_data_array,
) -> c_int {
    // SAFETY: By the caller's guarantee.
    let array = unsafe { &mut *array };
    // A zero-length array checks the type only.
    if array.entry_num == 0 && array.type_ == uapi::IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST {
        return 0;
    }
    let cmds = match read_viommu_invalidations(array) {
        Ok(cmds) => cmds,
        Err(e) => {
            array.entry_num = 0;
            return e.to_errno();
        }
    };
    let mut done = 0;
    let r = cmds.iter().try_for_each(|cmd| {
        if cmd.flags & !uapi::IOMMU_TEST_INVALIDATE_FLAG_ALL != 0 {
            return Err(EOPNOTSUPP);
        }
        if cmd.cache_id > uapi::MOCK_DEV_CACHE_ID_MAX {
            return Err(EINVAL);
        }
        // As C: the device stays while the vIOMMU's `vdevs` is locked.
        // SAFETY: The vIOMMU is live and initialised (the caller's guarantee).
        let _vdevs = unsafe { DriverViommu::vdevs_of(viommu) }.lock();
        // SAFETY: `iommufd_viommu_find_dev()` is called under the lock of `vdevs`; the
        // device it returns stays bound while the lock is held.
        let mdev = unsafe {
            let dev = bindings::iommufd_viommu_find_dev(viommu, cmd.vdev_id as usize);
            if dev.is_null() {
                None
            } else {
                as_mock(Device::from_raw(dev))
            }
        };
        if let Some(mdev) = mdev {
            clear_entries(&mdev.cache, cmd.flags, cmd.cache_id);
        }
        mdev.map(|_| ()).ok_or(EINVAL)?;
        done += 1;
        Ok(())
    });
    array.entry_num = done;
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Reads the whole user array of vIOMMU invalidations, as
/// `iommu_copy_struct_from_full_user_array` does.
fn read_viommu_invalidations(
    array: &bindings::iommu_user_data_array,
) -> Result<KVec<uapi::iommu_viommu_invalidate_selftest>> {
    const SIZE: usize = core::mem::size_of::<uapi::iommu_viommu_invalidate_selftest>();
    if array.type_ != uapi::IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST || array.entry_num == 0 {
        return Err(EINVAL);
    }
    let mut cmds = KVec::with_capacity(array.entry_num as usize, GFP_KERNEL)?;
    for i in 0..array.entry_num as usize {
        let bytes = array_entry::<SIZE>(array, i)?;
        cmds.push(
            uapi::iommu_viommu_invalidate_selftest {
                flags: word(&bytes, 0),
                vdev_id: word(&bytes, 1),
                cache_id: word(&bytes, 2),
            },
            GFP_KERNEL,
        )?;
    }
    Ok(cmds)
}

/// The mock vIOMMU's operations.
static VIOMMU_OPS: Shared<bindings::iommufd_viommu_ops> =
    Shared::new(bindings::iommufd_viommu_ops {
        destroy: Some(mock_viommu_destroy),
        alloc_domain_nested: Some(mock_viommu_alloc_domain_nested),
        cache_invalidate: Some(mock_viommu_cache_invalidate),
        get_hw_queue_size: Some(mock_get_hw_queue_size),
        hw_queue_init_phys: Some(mock_hw_queue_init_phys),
        ..zeroed()
    });

/// Answers a page request towards the (absent) hardware (`iommu_ops::page_response`).
///
/// # Safety
///
/// Called by the iommu core; touches nothing.
unsafe extern "C" fn mock_page_response(
    _dev: *mut bindings::device,
    _evt: *mut bindings::iopf_fault,
    _msg: *mut bindings::iommu_page_response,
) {
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

/// Answers `IOMMU_GET_HW_INFO` for a mock device (`iommu_ops::hw_info`): a register
/// value the tests check, in the selftest format.
///
/// # Safety
///
/// Called by the iommu core with a mock device and valid `length` and `type_`.
unsafe extern "C" fn mock_hw_info(
    _dev: *mut bindings::device,
    length: *mut u32,
    type_: *mut bindings::iommu_hw_info_type,
) -> *mut core::ffi::c_void {
    // SAFETY: The caller passes valid pointers.
    let ty = unsafe { *type_ };
    if ty != bindings::iommu_hw_info_type_IOMMU_HW_INFO_TYPE_DEFAULT
        && ty != uapi::IOMMU_HW_INFO_TYPE_SELFTEST
    {
        return EOPNOTSUPP.to_ptr();
    }
    let info = KBox::new(
        uapi::iommu_test_hw_info {
            flags: 0,
            test_reg: uapi::IOMMU_HW_INFO_SELFTEST_REGVAL,
        },
        GFP_KERNEL,
    );
    let Ok(info) = info else {
        return ENOMEM.to_ptr();
    };
    // SAFETY: As above. The caller frees the data with `kfree`, which takes what `KBox`'s
    // allocator (`krealloc`) returns.
    unsafe {
        *length = core::mem::size_of::<uapi::iommu_test_hw_info>() as u32;
        *type_ = uapi::IOMMU_HW_INFO_TYPE_SELFTEST;
    }
    KBox::into_raw(info).cast()
}

/// The mock IOMMU driver.
static MOCK_OPS: Shared<bindings::iommu_ops> = Shared::new(bindings::iommu_ops {
    // IOMMU_DOMAIN_BLOCKED cannot be returned from def_domain_type() (it is 0): name the
    // blocking domain as the default directly, as C does.
    default_domain: BLOCKING_DOMAIN.get(),
    blocked_domain: BLOCKING_DOMAIN.get(),
    owner: crate::THIS_MODULE.as_ptr(),
    hw_info: Some(mock_hw_info),
    domain_alloc_paging_flags: Some(mock_domain_alloc_paging_flags),
    domain_alloc_nested: Some(mock_domain_alloc_nested),
    page_response: Some(mock_page_response),
    get_viommu_size: Some(mock_get_viommu_size),
    viommu_init: Some(mock_viommu_init),
    capable: Some(mock_capable),
    device_group: Some(bindings::generic_device_group),
    probe_device: Some(mock_probe_device),
    ..zeroed()
});

/// The platform device the mock IOMMU sits under in sysfs, from [`register`] until the
/// [`Registration`] is dropped.
static MOCK_PDEV: AtomicPtr<bindings::platform_device> = AtomicPtr::new(null_mut());

/// The registered bus and IOMMU; unregistered on drop.
pub(crate) struct Registration {
    /// `fail_iommufd` in debugfs (removed after the IOMMU).
    _fail: kernel::fault_inject::Registration,
}

/// Registers the mock bus and IOMMU.
///
/// # Errors
///
/// As bus and IOMMU registration fail (`ENOMEM`).
pub(crate) fn register() -> Result<Registration> {
    // SAFETY: Registered once, at load, before any ioctl can reach a fault point; the
    // registration is dropped only at unload.
    let fail = unsafe { super::FAIL_IOMMUFD.register(c"fail_iommufd")? };
    // SAFETY: Not registered yet: nothing else reads the ops. The PASID table of a nested
    // domain is the user's (a bitfield, so not set in the static's initialiser).
    unsafe { (*MOCK_OPS.get()).set_user_pasid_table(1) };
    // SAFETY: Not registered yet: nothing else reads the IOMMU.
    unsafe { (*MOCK_IOMMU.get()).max_pasids = 1 << uapi::MOCK_PASID_WIDTH };
    // The mock IOMMU's parent in sysfs, as C's: a platform device of its name (instance 0,
    // so `iommufd_selftest_iommu.0`), which also names the IOMMU in /sys/class/iommu.
    let info = bindings::platform_device_info {
        name: c"iommufd_selftest_iommu".as_char_ptr(),
        ..zeroed()
    };
    // SAFETY: `info` is valid for the call; the name is a static string.
    let pdev = unsafe { bindings::platform_device_register_full(&info) };
    kernel::error::from_err_ptr(pdev)?;
    // SAFETY: The bus is a static with a name; it is registered once, here.
    if let Err(e) = to_result(unsafe { bindings::bus_register(MOCK_BUS.get()) }) {
        // SAFETY: Registered above.
        unsafe { bindings::platform_device_unregister(pdev) };
        return Err(e);
    }
    // SAFETY: The IOMMU is a static, added to sysfs once, under the platform device, which
    // stays registered until after it is removed; "%s" takes the device's name.
    let rc = unsafe {
        let parent = &raw mut (*pdev).dev;
        bindings::iommu_device_sysfs_add(
            MOCK_IOMMU.get(),
            parent,
            null_mut(),
            c"%s".as_char_ptr(),
            bindings::dev_name(parent),
        )
    };
    if rc != 0 {
        // SAFETY: Registered above.
        unsafe {
            bindings::bus_unregister(MOCK_BUS.get());
            bindings::platform_device_unregister(pdev);
        }
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
            bindings::platform_device_unregister(pdev);
        }
        return Err(Error::from_errno(rc));
    }
    MOCK_PDEV.store(pdev, Ordering::Relaxed);
    // SAFETY: The name is a static string.
    let queue = unsafe { bindings::iopf_queue_alloc(c"mock-iopfq".as_char_ptr()) };
    // Without a queue, attaching to a domain that handles faults fails with ENODEV, as in
    // C.
    IOPF_QUEUE.store(queue, Ordering::Relaxed);
    Ok(Registration { _fail: fail })
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
            bindings::platform_device_unregister(MOCK_PDEV.swap(null_mut(), Ordering::Relaxed));
            let queue = IOPF_QUEUE.swap(null_mut(), Ordering::Relaxed);
            if !queue.is_null() {
                bindings::iopf_queue_free(queue);
            }
        }
    }
}

/// The software-node properties of a mock device: `pasid-num-bits`, then the terminator.
fn pasid_property(bits: u32) -> [bindings::property_entry; 2] {
    let mut p: bindings::property_entry = zeroed();
    p.name = c"pasid-num-bits".as_char_ptr();
    p.length = core::mem::size_of::<u32>();
    p.is_inline = true;
    p.type_ = bindings::dev_prop_type_DEV_PROP_U32;
    // SAFETY: Writing the inline value of a zeroed entry; all union members are plain data.
    unsafe { p.__bindgen_anon_1.value.u32_data[0] = bits };
    [p, zeroed()]
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
    /// `EINVAL` for unknown flags, `ENOMEM`, or as adding the device fails.
    pub(crate) fn new(flags: u32) -> Result<Self> {
        if flags & !(uapi::MOCK_FLAGS_DEVICE_NO_DIRTY | uapi::MOCK_FLAGS_DEVICE_PASID) != 0 {
            return Err(EINVAL);
        }
        let mdev = KBox::new(
            MockDevice {
                dev: Opaque::zeroed(),
                flags,
                cache: [const { AtomicU32::new(uapi::IOMMU_TEST_DEV_CACHE_DEFAULT) };
                    uapi::MOCK_DEV_CACHE_NUM as usize],
                pasid_1024_fake_error: AtomicBool::new(false),
                iopf_users: AtomicU32::new(0),
                domain: AtomicPtr::new(null_mut()),
                vdev_id: AtomicU64::new(0),
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
        // The PASID width the iommu core reads at probe: 0 unless the device does PASID.
        let bits = if flags & uapi::MOCK_FLAGS_DEVICE_PASID != 0 {
            uapi::MOCK_PASID_WIDTH
        } else {
            0
        };
        let props = pasid_property(bits);
        let rc = if rc == 0 {
            // SAFETY: The device is initialised; the properties are copied, and end with an
            // empty entry.
            unsafe {
                bindings::device_create_managed_software_node(dev, props.as_ptr(), null_mut())
            }
        } else {
            rc
        };
        let rc = if rc == 0 {
            // SAFETY: The device is initialised and named; the IOMMU is registered.
            unsafe { bindings::iommu_mock_device_add(dev, MOCK_IOMMU.get()) }
        } else {
            rc
        };
        if rc != 0 {
            // `iommu_fwspec_init()` (7.2) returns ENOMEM with `dev->iommu` still allocated
            // when allocating the fwspec fails, and `iommu_mock_device_add()` does not free
            // it on that path (it does when `device_add()` fails): free it here, or it leaks
            // (kmemleak, under the upstream fail_nth selftest). `dev_iommu_free()` is not
            // exported; with no fwspec, it amounts to this.
            // SAFETY: The device was never added, so nothing else uses `dev->iommu`; it was
            // allocated with `kzalloc` by `dev_iommu_get()` and holds no fwspec.
            unsafe {
                let param = (*dev).iommu;
                if !param.is_null() && (*param).fwspec.is_null() {
                    (*dev).iommu = null_mut();
                    bindings::kfree(param.cast());
                }
            }
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
