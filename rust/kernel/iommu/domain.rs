// SPDX-License-Identifier: GPL-2.0

//! IOMMU domains: the IO page tables of the iommu core.
//!
//! C header: [`include/linux/iommu.h`](srctree/include/linux/iommu.h)

use crate::{
    alloc::{flags::GFP_KERNEL, Flags, KVec},
    bindings,
    device::Device,
    error::{code::*, from_err_ptr, to_result, Result},
    mm::pin::PinnedRun,
    page::PAGE_SIZE,
    sync::aref::ARef,
};
use core::ptr::NonNull;

/// Physical memory or MMIO that devices may be given without pinning pages: an exporter's
/// range of a dma-buf, an interrupt controller's MSI doorbell.
///
/// # Invariants
///
/// `len` bytes from `addr` may be mapped into domains until the maker (see
/// [`PhysRange::new`]) has them unmapped.
pub struct PhysRange {
    addr: u64,
    len: usize,
}

impl PhysRange {
    /// The `len` bytes from physical address `addr`.
    ///
    /// # Safety
    ///
    /// The memory must be the caller's to give to devices, and every mapping of it that
    /// [`Domain::map_phys`] makes must be unmapped before it stops being so (before a dma-buf
    /// exporter's revocation returns; before the doorbell's interrupt domain goes).
    pub unsafe fn new(addr: u64, len: usize) -> Self {
        // INVARIANT: By the caller's guarantee.
        Self { addr, len }
    }

    /// The physical address of the first byte.
    pub fn addr(&self) -> u64 {
        self.addr
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the range is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The access bits of a mapping (`IOMMU_READ`, `IOMMU_WRITE`, ...).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct Prot(i32);

impl Prot {
    /// Devices may read.
    pub const READ: Prot = Prot(bindings::IOMMU_READ as i32);
    /// Devices may write.
    pub const WRITE: Prot = Prot(bindings::IOMMU_WRITE as i32);
    /// Accesses snoop the CPU caches (the domain enforces cache coherency).
    pub const CACHE: Prot = Prot(bindings::IOMMU_CACHE as i32);
    /// The target is MMIO, not memory (an MSI doorbell, a device's BAR).
    pub const MMIO: Prot = Prot(bindings::IOMMU_MMIO as i32);

    /// No access.
    pub const fn empty() -> Self {
        Prot(0)
    }

    /// Both sets of bits.
    pub const fn with(self, other: Prot) -> Self {
        Prot(self.0 | other.0)
    }

    /// The raw bits.
    pub const fn bits(self) -> i32 {
        self.0
    }
}

/// The range of IOVA a domain can translate (`struct iommu_domain_geometry`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Aperture {
    /// The first IOVA that can be mapped.
    pub start: u64,
    /// The last IOVA that can be mapped.
    pub end: u64,
    /// Whether DMA outside the aperture is blocked.
    pub force: bool,
}

/// An IOMMU domain this object owns.
///
/// `iommu_map` and `iommu_unmap` may run concurrently on one domain for disjoint IOVA; the
/// owner serialises operations on overlapping IOVA.
///
/// # Invariants
///
/// `ptr` points to a valid `struct iommu_domain` this object owns: nothing else frees it,
/// and dropping the object frees it with `iommu_domain_free`.
pub struct Domain {
    ptr: NonNull<bindings::iommu_domain>,
    /// The type of the attach handles' data of an IO page fault handler, if the domain
    /// has one ([`super::iopf`]): only handles of that type may attach it.
    iopf_data: Option<core::any::TypeId>,
}

// SAFETY: A domain is not tied to the thread that allocated it; the iommu core and the
// drivers may free it from any thread.
unsafe impl Send for Domain {}

// SAFETY: The operations provided through `&Domain` (map, unmap, lookups) may run
// concurrently from several threads for disjoint IOVA, which is the iommu core's contract;
// the fields read are set once at allocation.
unsafe impl Sync for Domain {}

impl Domain {
    /// Allocates a paging domain (`IOMMU_DOMAIN_UNMANAGED`) for `dev` with the allocation
    /// flags `flags` (`IOMMU_HWPT_ALLOC_*`).
    ///
    /// # Errors
    ///
    /// What the driver returns: `EOPNOTSUPP` for flags it does not support, `ENOMEM`, ...
    pub fn alloc_paging(dev: &Device, flags: u32) -> Result<Self> {
        // SAFETY: `dev` is a valid device for the call.
        let ptr = from_err_ptr(unsafe {
            bindings::iommu_paging_domain_alloc_flags(dev.as_raw(), flags)
        })?;
        // SAFETY: A successful allocation returns a valid domain, now ours.
        Ok(unsafe { Self::from_raw(ptr) })
    }

    /// Allocates a paging domain for `dev` directly through its IOMMU driver's
    /// `domain_alloc_paging_flags` callback, with the allocation flags `flags` and the
    /// driver-specific data `data` user space gave (as iommufd's `IOMMU_HWPT_ALLOC` does).
    /// The domain's owner is set to the driver.
    ///
    /// # Errors
    ///
    /// `ENODEV` if no IOMMU translates for `dev`, `EOPNOTSUPP` if the driver takes no
    /// flags or data, and what the driver returns (`EINVAL` for bad data, `ENOMEM`, ...).
    pub fn alloc_paging_user(dev: &Device, flags: u32, data: Option<&UserData>) -> Result<Self> {
        let ops = device_ops(dev).ok_or(ENODEV)?;
        // SAFETY: A driver's ops live as long as devices are bound to it, which `dev` is.
        let Some(alloc) = (unsafe { (*ops).domain_alloc_paging_flags }) else {
            if flags != 0 || data.is_some() {
                return Err(EOPNOTSUPP);
            }
            return Self::alloc_paging(dev, 0);
        };
        let raw = data.map(UserData::as_raw);
        let raw_ptr = raw.as_ref().map_or(core::ptr::null(), core::ptr::from_ref);
        // SAFETY: `dev` is valid and probed by the driver; `raw_ptr` is null or valid for
        // the call.
        let ptr = from_err_ptr(unsafe { alloc(dev.as_raw(), flags, raw_ptr) })?;
        if ptr.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: The driver returned a valid domain, now ours; as the iommu core does for
        // domains it allocates, record whose it is.
        unsafe { (*ptr).owner = ops };
        // SAFETY: As above.
        Ok(unsafe { Self::from_raw(ptr) })
    }

    /// Allocates a nested domain (`IOMMU_DOMAIN_NESTED`) for `dev` on the paging domain
    /// `parent`, through the driver's `domain_alloc_nested` callback, with the allocation
    /// flags `flags` and the driver-specific data `data` (which describes the stage-1
    /// table user space owns). The domain's owner is set to the driver.
    ///
    /// # Errors
    ///
    /// `ENODEV` if no IOMMU translates for `dev`, `EOPNOTSUPP` if the driver cannot nest
    /// (or returns a domain of another type), and what the driver returns (`EINVAL` for a
    /// parent it cannot nest on or bad data, `EFAULT`, `ENOMEM`, ...).
    pub fn alloc_nested(
        dev: &Device,
        parent: &Domain,
        flags: u32,
        data: &UserData,
    ) -> Result<Self> {
        let ops = device_ops(dev).ok_or(ENODEV)?;
        // SAFETY: A driver's ops live as long as devices are bound to it, which `dev` is.
        let alloc = unsafe { (*ops).domain_alloc_nested }.ok_or(EOPNOTSUPP)?;
        let raw = data.as_raw();
        // SAFETY: `dev` is valid and probed by the driver, `parent` is a valid domain, and
        // `raw` is valid for the call; the driver returns an error pointer or a domain that
        // is now ours.
        unsafe { Self::from_driver_nested(alloc(dev.as_raw(), parent.as_raw(), flags, &raw), ops) }
    }

    /// Takes the driver's new nested domain at `ptr` (from `domain_alloc_nested`, or a
    /// vIOMMU's `alloc_domain_nested`), records `owner` as the driver that made it, and
    /// checks its type.
    ///
    /// # Errors
    ///
    /// What `ptr` encodes as an error pointer; `ENOMEM` for null; `EOPNOTSUPP` (freeing
    /// it) if it is not a nested domain.
    ///
    /// # Safety
    ///
    /// `ptr` is an error pointer or a valid domain the caller owns and gives away.
    pub unsafe fn from_driver_nested(
        ptr: *mut bindings::iommu_domain,
        owner: *const bindings::iommu_ops,
    ) -> Result<Self> {
        let ptr = from_err_ptr(ptr)?;
        if ptr.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: The caller gives us a valid domain.
        unsafe { (*ptr).owner = owner };
        // SAFETY: As above.
        let domain = unsafe { Self::from_raw(ptr) };
        if domain.domain_type() != bindings::IOMMU_DOMAIN_NESTED {
            crate::warn_on!(true);
            return Err(EOPNOTSUPP);
        }
        Ok(domain)
    }

    /// Records the type of the attach handles' data of the domain's IO page fault handler.
    pub(crate) fn set_iopf_data(&mut self, ty: core::any::TypeId) {
        self.iopf_data = Some(ty);
    }

    /// Whether attach handles with data of type `ty` may attach the domain: any, unless it
    /// has an IO page fault handler, which takes only its own.
    pub(crate) fn takes_handle_data(&self, ty: core::any::TypeId) -> bool {
        match self.iopf_data {
            Some(t) => t == ty,
            None => true,
        }
    }

    /// Marks the domain as iommufd's (`IOMMU_COOKIE_IOMMUFD`), with `cookie` in its
    /// `iommufd_hwpt`: the iommu core then hands MSI set-up for devices attached to it to
    /// `iommufd_sw_msi()`, which reads the cookie back ([`Domain::iommufd_cookie`]).
    ///
    /// # Safety
    ///
    /// The domain is attached nowhere yet (nothing reads the cookie concurrently), and
    /// `cookie` is valid, for whatever its reader takes it to be, while the domain lives.
    pub unsafe fn set_iommufd_cookie(&self, cookie: *mut core::ffi::c_void) {
        // SAFETY: The domain is valid (type invariant); no one reads the fields yet (the
        // caller's guarantee).
        unsafe {
            let d = self.as_raw();
            (*d).cookie_type = bindings::iommu_domain_cookie_type_IOMMU_COOKIE_IOMMUFD;
            (*d).__bindgen_anon_1.iommufd_hwpt = cookie.cast();
        }
    }

    /// The cookie of [`Domain::set_iommufd_cookie`] of the domain `domain`; null if it is
    /// not iommufd's.
    ///
    /// # Safety
    ///
    /// `domain` is a valid domain.
    pub unsafe fn iommufd_cookie(domain: *const bindings::iommu_domain) -> *mut core::ffi::c_void {
        // SAFETY: By the caller's guarantee; the union member is the one the cookie type
        // says.
        unsafe {
            if (*domain).cookie_type == bindings::iommu_domain_cookie_type_IOMMU_COOKIE_IOMMUFD {
                (*domain).__bindgen_anon_1.iommufd_hwpt.cast()
            } else {
                core::ptr::null_mut()
            }
        }
    }

    /// Whether the driver can invalidate its caches of this domain on the user's request
    /// ([`Domain::cache_invalidate_user`]).
    pub fn has_cache_invalidate_user(&self) -> bool {
        let ops = self.raw().ops;
        // SAFETY: A domain's ops are valid while the domain lives.
        !ops.is_null() && unsafe { (*ops).cache_invalidate_user }.is_some()
    }

    /// Invalidates the driver's caches of a nested domain as the user's array of requests
    /// `array` says (`cache_invalidate_user`); on return `array.entry_num` holds the
    /// number of requests handled.
    ///
    /// # Errors
    ///
    /// `EOPNOTSUPP` if the driver cannot; what it returns for the first request it
    /// refused.
    pub fn cache_invalidate_user(&self, array: &mut UserDataArray) -> Result {
        let ops = self.raw().ops;
        // SAFETY: A domain's ops are valid while the domain lives.
        let f = (!ops.is_null())
            .then(|| unsafe { (*ops).cache_invalidate_user })
            .flatten()
            .ok_or(EOPNOTSUPP)?;
        let mut raw = array.as_raw();
        // SAFETY: The domain is valid and `raw` lives for the call; the driver copies the
        // entries from user memory itself.
        let r = to_result(unsafe { f(self.as_raw(), &mut raw) });
        array.entry_num = raw.entry_num;
        r
    }

    /// Takes ownership of the domain at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` points to a valid, fully set up `struct iommu_domain` the caller owns and gives
    /// to the new object.
    pub unsafe fn from_raw(ptr: *mut bindings::iommu_domain) -> Self {
        // INVARIANT: The caller gives us a valid domain it owned.
        Self {
            // SAFETY: A valid domain pointer is not null.
            ptr: unsafe { NonNull::new_unchecked(ptr) },
            iopf_data: None,
        }
    }

    /// The domain, for C.
    pub fn as_raw(&self) -> *mut bindings::iommu_domain {
        self.ptr.as_ptr()
    }

    /// Whether `other` is this very domain.
    pub fn is(&self, other: &Domain) -> bool {
        self.ptr == other.ptr
    }

    fn raw(&self) -> &bindings::iommu_domain {
        // SAFETY: By the type invariant the domain is valid while `self` lives.
        unsafe { self.ptr.as_ref() }
    }

    /// The domain type (`IOMMU_DOMAIN_*`).
    pub fn domain_type(&self) -> u32 {
        self.raw().type_
    }

    /// The page sizes the domain can map, as a bitmap.
    pub fn pgsize_bitmap(&self) -> usize {
        self.raw().pgsize_bitmap
    }

    /// The IOVA the domain can translate.
    pub fn aperture(&self) -> Aperture {
        let g = &self.raw().geometry;
        Aperture {
            start: g.aperture_start,
            end: g.aperture_end,
            force: g.force_aperture,
        }
    }

    /// The driver that allocated the domain.
    fn owner(&self) -> *const bindings::iommu_ops {
        self.raw().owner
    }

    /// Whether the domain was allocated by the IOMMU driver of `dev`.
    pub fn is_of_driver_of(&self, dev: &Device) -> bool {
        device_ops(dev).is_some_and(|ops| core::ptr::eq(ops, self.owner()))
    }

    /// Whether the domain's operations are the table `ops`: how the driver that made it
    /// tells its kinds of domain apart.
    pub fn has_ops(&self, ops: *const bindings::iommu_domain_ops) -> bool {
        core::ptr::eq(self.raw().ops, ops)
    }

    /// The domain's dirty tracking operations (null without dirty tracking); see
    /// [`super::dirty`].
    pub(crate) fn dirty_ops(&self) -> *const bindings::iommu_dirty_ops {
        self.raw().dirty_ops
    }

    /// Makes every DMA through the domain snoop the CPU caches; returns whether the domain
    /// can (and now does).
    pub fn enforce_cache_coherency(&self) -> bool {
        let ops = self.raw().ops;
        if ops.is_null() {
            return false;
        }
        // SAFETY: A domain's ops are valid while the domain lives.
        let Some(f) = (unsafe { (*ops).enforce_cache_coherency }) else {
            return false;
        };
        // SAFETY: The domain is valid; the callback is the driver's own for it.
        unsafe { f(self.as_raw()) }
    }

    /// Maps `size` bytes from `paddr` at `iova` with the access `prot`, allocating page
    /// table memory with `gfp`.
    ///
    /// # Errors
    ///
    /// `EINVAL` for a misaligned or out-of-range request, `ENOMEM`; nothing stays mapped on
    /// error.
    ///
    /// # Safety
    ///
    /// A device attached to the domain reaches the memory at `paddr` until it is unmapped:
    /// the caller must own it for devices (pinned pages, its own MMIO) and unmap it before
    /// it gives it up. [`Domain::map_pinned`] and [`Domain::map_phys`] are the safe forms.
    pub unsafe fn map(
        &self,
        iova: usize,
        paddr: u64,
        size: usize,
        prot: Prot,
        gfp: Flags,
    ) -> Result {
        // SAFETY: The domain is valid; `iommu_map` checks the range against it. What the
        // device reaches is the caller's to give.
        to_result(unsafe {
            bindings::iommu_map(self.as_raw(), iova, paddr, size, prot.bits(), gfp.as_raw())
        })
    }

    /// Maps `size` bytes of the pinned pages `run`, from byte `offset` of its first page, at
    /// `iova` with the access `prot`.
    ///
    /// The device reaches only pages the caller holds a pin on; it must unmap them before
    /// the run is dropped, as a user of the pages must not touch them once unpinned.
    ///
    /// # Errors
    ///
    /// `EINVAL` if the bytes are not all in the run, and as [`Domain::map`].
    pub fn map_pinned(
        &self,
        iova: usize,
        run: &PinnedRun,
        offset: usize,
        size: usize,
        prot: Prot,
        gfp: Flags,
    ) -> Result {
        let end = offset.checked_add(size).ok_or(EINVAL)?;
        if end > run.count() * PAGE_SIZE {
            return Err(EINVAL);
        }
        let paddr = (run.pfn() * PAGE_SIZE + offset) as u64;
        // SAFETY: The bytes are in the pinned pages of `run`, which the caller holds.
        unsafe { self.map(iova, paddr, size, prot, gfp) }
    }

    /// Maps `size` bytes of `range`, from its byte `offset`, at `iova` with the access
    /// `prot`.
    ///
    /// # Errors
    ///
    /// `EINVAL` if the bytes are not all in the range, and as [`Domain::map`].
    pub fn map_phys(
        &self,
        iova: usize,
        range: &PhysRange,
        offset: u64,
        size: usize,
        prot: Prot,
        gfp: Flags,
    ) -> Result {
        let end = offset.checked_add(size as u64).ok_or(EINVAL)?;
        if end > range.len as u64 {
            return Err(EINVAL);
        }
        // SAFETY: The bytes are in `range`, which its maker gave for devices until it
        // unmaps them (`PhysRange::new`).
        unsafe { self.map(iova, range.addr + offset, size, prot, gfp) }
    }

    /// Unmaps `size` bytes at `iova`; returns the bytes unmapped.
    pub fn unmap(&self, iova: usize, size: usize) -> usize {
        // SAFETY: The domain is valid; `iommu_unmap` checks the range against it.
        unsafe { bindings::iommu_unmap(self.as_raw(), iova, size) }
    }

    /// The physical address `iova` translates to, 0 if none.
    pub fn iova_to_phys(&self, iova: u64) -> u64 {
        // SAFETY: The domain is valid.
        unsafe { bindings::iommu_iova_to_phys(self.as_raw(), iova) }
    }
}

impl Drop for Domain {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own the domain, and it is freed only here.
        unsafe { bindings::iommu_domain_free(self.as_raw()) };
    }
}

/// Driver-specific data from user space for a domain allocation (`struct
/// iommu_user_data`): the driver copies it in itself.
#[derive(Copy, Clone, Debug)]
pub struct UserData {
    /// The data type (`IOMMU_HWPT_DATA_*`).
    pub data_type: u32,
    /// The user address of the data.
    pub uptr: usize,
    /// Its length in bytes.
    pub len: usize,
}

impl UserData {
    /// The C form, valid while `self` is.
    pub fn as_raw(&self) -> bindings::iommu_user_data {
        bindings::iommu_user_data {
            type_: self.data_type,
            uptr: self.uptr as *mut core::ffi::c_void,
            len: self.len,
        }
    }
}

/// An array of driver-specific requests from user space (`struct iommu_user_data_array`),
/// which the driver copies in entry by entry.
#[derive(Copy, Clone, Debug)]
pub struct UserDataArray {
    /// The type of every entry.
    pub data_type: u32,
    /// The user address of the array.
    pub uptr: usize,
    /// The length of one entry, in bytes.
    pub entry_len: usize,
    /// The entries; on return of a call, the entries handled.
    pub entry_num: u32,
}

impl UserDataArray {
    /// The C form, valid while `self` is.
    pub fn as_raw(&self) -> bindings::iommu_user_data_array {
        bindings::iommu_user_data_array {
            type_: self.data_type,
            uptr: self.uptr as *mut core::ffi::c_void,
            entry_len: self.entry_len,
            entry_num: self.entry_num,
        }
    }
}

/// The operations of the IOMMU driver that translates for `dev`, if any.
pub fn device_ops(dev: &Device) -> Option<*const bindings::iommu_ops> {
    // SAFETY: `dev` is valid; `iommu` is set while an IOMMU probed the device, and its
    // `iommu_dev` and that device's `ops` are valid as long as the device stays probed.
    unsafe {
        let iommu = (*dev.as_raw()).iommu;
        if iommu.is_null() || (*iommu).iommu_dev.is_null() {
            return None;
        }
        let ops = (*(*iommu).iommu_dev).ops;
        (!ops.is_null()).then_some(ops)
    }
}

/// Whether an IOMMU driver translates for `dev` ([`device_ops`] without the pointer).
pub fn device_has_iommu_driver(dev: &Device) -> bool {
    device_ops(dev).is_some()
}

/// The number of PASIDs `dev` supports (0 if none, or if PASID is not enabled).
pub fn device_max_pasids(dev: &Device) -> u32 {
    // SAFETY: As in `device_ops`.
    unsafe {
        let iommu = (*dev.as_raw()).iommu;
        if iommu.is_null() {
            0
        } else {
            (*iommu).max_pasids
        }
    }
}

/// The PASID control of a PCI function (its PASID extended capability's control register).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PciPasidControl {
    /// PASID is enabled. A function whose IOMMU reports PASIDs has it enabled (the IOMMU
    /// drivers enable it when they probe the device); a register that cannot be read is
    /// reported as not enabled.
    pub enabled: bool,
    /// Requests with PASID may ask for execute permission.
    pub exec: bool,
    /// Requests with PASID may ask for privileged mode.
    pub privileged: bool,
}

/// The PASID control of `dev`, if it is a PCI function; `None` for other devices.
///
/// # Examples
///
/// ```
/// # use kernel::iommu::domain::device_pci_pasid_control;
/// fn pasid_exec(dev: &kernel::device::Device) -> bool {
///     device_pci_pasid_control(dev).is_some_and(|c| c.enabled && c.exec)
/// }
/// ```
pub fn device_pci_pasid_control(dev: &Device) -> Option<PciPasidControl> {
    let pdev = pci_dev_of(dev)?;
    #[cfg(CONFIG_PCI_PASID)]
    {
        // SAFETY: `pdev` is the valid PCI function of `dev`.
        let ctrl = unsafe { bindings::pci_pasid_status(pdev) };
        if ctrl < 0 {
            return Some(PciPasidControl {
                enabled: false,
                exec: false,
                privileged: false,
            });
        }
        let ctrl = ctrl as u32;
        Some(PciPasidControl {
            enabled: ctrl & bindings::PCI_PASID_CTRL_ENABLE != 0,
            exec: ctrl & bindings::PCI_PASID_CTRL_EXEC != 0,
            privileged: ctrl & bindings::PCI_PASID_CTRL_PRIV != 0,
        })
    }
    #[cfg(not(CONFIG_PCI_PASID))]
    {
        let _ = pdev;
        Some(PciPasidControl {
            enabled: false,
            exec: false,
            privileged: false,
        })
    }
}

/// Whether `dev` is a PCI virtual function whose physical function supports PRI (page
/// request), which PF and VFs share: a VF's failed page responses would reach the shared
/// PRI, so a domain that forwards IO page faults to user space cannot take it.
pub fn device_shares_pri_with_pf(dev: &Device) -> bool {
    let Some(pdev) = pci_dev_of(dev) else {
        return false;
    };
    // SAFETY: `pdev` is the valid PCI function of `dev`; `is_virtfn` is a plain bitfield.
    if unsafe { (*pdev).is_virtfn() } == 0 {
        return false;
    }
    #[cfg(CONFIG_PCI_PRI)]
    {
        // SAFETY: As above; for a VF the function reads its PF's capability.
        unsafe { bindings::pci_pri_supported(pdev) }
    }
    #[cfg(not(CONFIG_PCI_PRI))]
    {
        false
    }
}

/// The `struct pci_dev` of `dev`, if it is a PCI function.
fn pci_dev_of(dev: &Device) -> Option<*mut bindings::pci_dev> {
    #[cfg(CONFIG_PCI)]
    {
        // SAFETY: `dev` is a valid device.
        if !unsafe { bindings::dev_is_pci(dev.as_raw()) } {
            return None;
        }
        // SAFETY: A device on the PCI bus is embedded in a `struct pci_dev`, as `dev`.
        Some(unsafe { crate::container_of!(dev.as_raw(), bindings::pci_dev, dev) })
    }
    #[cfg(not(CONFIG_PCI))]
    {
        let _ = dev;
        None
    }
}

/// Information about the IOMMU that translates for a device, in its driver's format
/// (`iommu_ops::hw_info`); freed on drop.
///
/// # Invariants
///
/// `data` points to `len` bytes allocated with `kmalloc` by the driver, owned by this object.
pub struct HwInfo {
    data: NonNull<u8>,
    len: usize,
    data_type: u32,
}

impl HwInfo {
    /// The driver's data.
    pub fn data(&self) -> &[u8] {
        // SAFETY: By the type invariant `data` holds `len` bytes we own.
        unsafe { core::slice::from_raw_parts(self.data.as_ptr(), self.len) }
    }

    /// The format of the data (`IOMMU_HW_INFO_TYPE_*`).
    pub fn data_type(&self) -> u32 {
        self.data_type
    }
}

impl Drop for HwInfo {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own the allocation.
        unsafe { bindings::kfree(self.data.as_ptr().cast()) };
    }
}

/// Asks the IOMMU driver of `dev` for its information in the format `data_type`
/// (`IOMMU_HW_INFO_TYPE_DEFAULT` for the driver's own); `None` if the driver has none.
///
/// # Errors
///
/// `ENODEV` if no IOMMU translates for `dev`, and what the driver returns (`EOPNOTSUPP`
/// for a format it does not have, `ENOMEM`).
pub fn device_hw_info(dev: &Device, data_type: u32) -> Result<Option<HwInfo>> {
    let ops = device_ops(dev).ok_or(ENODEV)?;
    // SAFETY: A driver's ops live as long as devices are bound to it, which `dev` is.
    let Some(hw_info) = (unsafe { (*ops).hw_info }) else {
        return Ok(None);
    };
    let mut len: u32 = 0;
    let mut ty = data_type;
    // SAFETY: `dev` is valid and probed by the driver; `len` and `ty` are valid for writes.
    let ptr = from_err_ptr(unsafe { hw_info(dev.as_raw(), &mut len, &mut ty) })?;
    let data = NonNull::new(ptr.cast::<u8>()).ok_or(ENOMEM)?;
    // INVARIANT: The driver allocated `len` bytes with `kmalloc` for the caller.
    Ok(Some(HwInfo {
        data,
        len: len as usize,
        data_type: ty,
    }))
}

/// A capability of the IOMMU that translates for a device (`enum iommu_cap`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(transparent)]
pub struct Cap(bindings::iommu_cap);

impl Cap {
    /// DMA is coherent with the CPU caches (`IOMMU_CAP_CACHE_COHERENCY`).
    pub const CACHE_COHERENCY: Self = Self(bindings::iommu_cap_IOMMU_CAP_CACHE_COHERENCY);
    /// Domains can be made to snoop the CPU caches for every DMA
    /// (`IOMMU_CAP_ENFORCE_CACHE_COHERENCY`, see [`Domain::enforce_cache_coherency`]).
    pub const ENFORCE_CACHE_COHERENCY: Self =
        Self(bindings::iommu_cap_IOMMU_CAP_ENFORCE_CACHE_COHERENCY);
    /// The IO page tables record which pages devices wrote
    /// (`IOMMU_CAP_DIRTY_TRACKING`, see [`super::dirty`]).
    pub const DIRTY_TRACKING: Self = Self(bindings::iommu_cap_IOMMU_CAP_DIRTY_TRACKING);
    /// The IOMMU supports PCI ATS for the device (`IOMMU_CAP_PCI_ATS_SUPPORTED`).
    pub const PCI_ATS_SUPPORTED: Self = Self(bindings::iommu_cap_IOMMU_CAP_PCI_ATS_SUPPORTED);
}

/// Whether the IOMMU that translates for `dev` has the capability `cap`.
pub fn device_capable(dev: &Device, cap: Cap) -> bool {
    // SAFETY: `dev` is valid for the call.
    unsafe { bindings::device_iommu_capable(dev.as_raw(), cap.0) }
}

/// A region of IOVA that the IOMMU of a device reserves (`struct iommu_resv_region`).
#[derive(Copy, Clone, Debug)]
pub struct ResvRegion {
    /// First IOVA.
    pub start: u64,
    /// Length in bytes (at least 1).
    pub length: u64,
    /// What it is (`IOMMU_RESV_*`: direct mapped, reserved, hardware or software MSI).
    pub kind: bindings::iommu_resv_type,
}

impl ResvRegion {
    /// A direct-mapped region devices may need (`IOMMU_RESV_DIRECT`).
    pub const DIRECT: bindings::iommu_resv_type = bindings::iommu_resv_type_IOMMU_RESV_DIRECT;
    /// A direct-mapped region the user may take over (`IOMMU_RESV_DIRECT_RELAXABLE`).
    pub const DIRECT_RELAXABLE: bindings::iommu_resv_type =
        bindings::iommu_resv_type_IOMMU_RESV_DIRECT_RELAXABLE;
    /// A region the IOMMU does not translate (`IOMMU_RESV_RESERVED`).
    pub const RESERVED: bindings::iommu_resv_type = bindings::iommu_resv_type_IOMMU_RESV_RESERVED;
    /// The untranslated MSI window (`IOMMU_RESV_MSI`).
    pub const MSI: bindings::iommu_resv_type = bindings::iommu_resv_type_IOMMU_RESV_MSI;
    /// The window where MSI doorbells must be mapped (`IOMMU_RESV_SW_MSI`).
    pub const SW_MSI: bindings::iommu_resv_type = bindings::iommu_resv_type_IOMMU_RESV_SW_MSI;
}

/// The reserved regions of the IOMMU that translates for `dev` (`iommu_get_resv_regions`).
///
/// # Errors
///
/// `ENOMEM`.
pub fn resv_regions(dev: &Device) -> Result<KVec<ResvRegion>> {
    let mut head = core::mem::MaybeUninit::<bindings::list_head>::uninit();
    let head = head.as_mut_ptr();
    // SAFETY: `head` is valid for writes; an empty list points to itself.
    unsafe {
        (*head).next = head;
        (*head).prev = head;
    }
    // SAFETY: `dev` is valid; `head` is an empty list the core appends its regions to.
    unsafe { bindings::iommu_get_resv_regions(dev.as_raw(), head) };
    let mut out = KVec::new();
    let mut res = Ok(());
    // SAFETY: The list holds `struct iommu_resv_region`s linked by their `list` field,
    // which stay until `iommu_put_resv_regions` below.
    let mut pos = unsafe { (*head).next };
    while pos != head {
        // SAFETY: `pos` is the `list` field of a region of the list (see above).
        let region = unsafe { &*crate::container_of!(pos, bindings::iommu_resv_region, list) };
        if res.is_ok() && region.length != 0 {
            res = out.push(
                ResvRegion {
                    start: region.start,
                    length: region.length as u64,
                    kind: region.type_,
                },
                GFP_KERNEL,
            );
        }
        pos = region.list.next;
    }
    // SAFETY: The regions were got for `dev` with `iommu_get_resv_regions` above.
    unsafe { bindings::iommu_put_resv_regions(dev.as_raw(), head) };
    res.map(|()| out).map_err(Into::into)
}

/// The DMA ownership of a device claimed by a user other than the kernel's DMA API (a
/// driver handing the device to user space); released on drop.
///
/// # Invariants
///
/// `dev`'s DMA ownership was claimed by this object with `iommu_device_claim_dma_owner`.
pub struct DmaOwner {
    dev: ARef<Device>,
}

impl DmaOwner {
    /// Claims the DMA ownership of `dev` for `owner`, whose address is the token: devices
    /// of one group may share the claim only with the same token.
    ///
    /// # Errors
    ///
    /// `EBUSY` if the group is owned by the DMA API or another owner, `ENODEV` without an
    /// IOMMU group.
    pub fn claim<T>(dev: &Device, owner: &T) -> Result<Self> {
        let token = core::ptr::from_ref(owner).cast_mut().cast();
        // SAFETY: `dev` is valid; the token is only compared, never dereferenced.
        to_result(unsafe { bindings::iommu_device_claim_dma_owner(dev.as_raw(), token) })?;
        // INVARIANT: The claim succeeded.
        Ok(Self { dev: dev.into() })
    }
}

impl Drop for DmaOwner {
    fn drop(&mut self) {
        // SAFETY: By the type invariant this object holds the claim, released only here.
        unsafe { bindings::iommu_device_release_dma_owner(self.dev.as_raw()) };
    }
}
