// SPDX-License-Identifier: GPL-2.0

//! `IOMMU_TEST_CMD`: the test ioctl the kernel's own iommufd selftests drive
//! (CONFIG_IOMMUFD_TEST).
//!
//! The ABI is `iommufd_test.h`, beside this file, where the selftests include it from. The
//! ops that need no device are implemented here; [`access`] drives in-kernel accesses,
//! [`mock`] is the mock IOMMU driver (mock domains and devices, dirty tracking, vIOMMU
//! with its mmap region, HW queues and vEVENTs, IO page faults), `stdev` the selftest
//! objects that own mock devices, and [`dmabuf`] the mock dma-buf exporter. Unknown ops
//! fail with `EOPNOTSUPP`, as in C.

mod access;
pub(crate) mod dmabuf;
mod domain_kunit;
pub(crate) mod floor;
pub(crate) mod mock;
mod stdev;

pub(crate) use stdev::StDev;

use kernel::{bindings, page::PAGE_SIZE, prelude::*, sync::atomic::Relaxed};

use crate::{device::idev::IDevice, pagetable::iova::IovaRange, pagetable::Ioas, ucmd::UCmd};

/// The ops, as `u32`.
mod op {
    use kernel::uapi;

    pub(super) const ADD_RESERVED: u32 = uapi::IOMMU_TEST_OP_ADD_RESERVED;
    pub(super) const MOCK_DOMAIN: u32 = uapi::IOMMU_TEST_OP_MOCK_DOMAIN;
    pub(super) const MOCK_DOMAIN_FLAGS: u32 = uapi::IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS;
    pub(super) const MOCK_DOMAIN_REPLACE: u32 = uapi::IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE;
    pub(super) const MD_CHECK_MAP: u32 = uapi::IOMMU_TEST_OP_MD_CHECK_MAP;
    pub(super) const DEV_CHECK_CACHE: u32 = uapi::IOMMU_TEST_OP_DEV_CHECK_CACHE;
    pub(super) const DIRTY: u32 = uapi::IOMMU_TEST_OP_DIRTY;
    pub(super) const MD_CHECK_REFS: u32 = uapi::IOMMU_TEST_OP_MD_CHECK_REFS;
    pub(super) const SET_TEMP_MEMORY_LIMIT: u32 = uapi::IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT;
    pub(super) const CREATE_ACCESS: u32 = uapi::IOMMU_TEST_OP_CREATE_ACCESS;
    pub(super) const DESTROY_ACCESS_PAGES: u32 = uapi::IOMMU_TEST_OP_DESTROY_ACCESS_PAGES;
    pub(super) const ACCESS_PAGES: u32 = uapi::IOMMU_TEST_OP_ACCESS_PAGES;
    pub(super) const ACCESS_RW: u32 = uapi::IOMMU_TEST_OP_ACCESS_RW;
    pub(super) const ACCESS_REPLACE_IOAS: u32 = uapi::IOMMU_TEST_OP_ACCESS_REPLACE_IOAS;
    pub(super) const MD_CHECK_IOTLB: u32 = uapi::IOMMU_TEST_OP_MD_CHECK_IOTLB;
    pub(super) const TRIGGER_IOPF: u32 = uapi::IOMMU_TEST_OP_TRIGGER_IOPF;
    pub(super) const DMABUF_GET: u32 = uapi::IOMMU_TEST_OP_DMABUF_GET;
    pub(super) const DMABUF_REVOKE: u32 = uapi::IOMMU_TEST_OP_DMABUF_REVOKE;
    pub(super) const TRIGGER_VEVENT: u32 = uapi::IOMMU_TEST_OP_TRIGGER_VEVENT;
    pub(super) const PASID_ATTACH: u32 = uapi::IOMMU_TEST_OP_PASID_ATTACH;
    pub(super) const PASID_REPLACE: u32 = uapi::IOMMU_TEST_OP_PASID_REPLACE;
    pub(super) const PASID_DETACH: u32 = uapi::IOMMU_TEST_OP_PASID_DETACH;
    pub(super) const PASID_CHECK_HWPT: u32 = uapi::IOMMU_TEST_OP_PASID_CHECK_HWPT;
}

/// `fail_iommufd` in debugfs: iommufd's own fault injection points (object lookups, pinning,
/// accounting), which `fail-nth` sweeps along with allocations.
pub(crate) static FAIL_IOMMUFD: kernel::fault_inject::FaultAttr =
    kernel::fault_inject::FaultAttr::new();

/// Registers what the test driver adds to the layers (its mock dma-buf exporter, the
/// syzkaller conversion of `IOMMU_IOAS_COPY`'s source) before any `/dev/iommu` exists: the
/// layers call into the test driver only through these.
pub(crate) fn register_hooks() {
    crate::pagetable::dmabuf::register_exporter(dmabuf::phys);
    crate::pagetable::ioas::register_copy_source(|ucmd, cmd| {
        let raw = &mut **cmd;
        syz_conv_iova_id(ucmd, raw.src_ioas_id, &mut raw.src_iova, &mut raw.flags)
    });
}

/// Handles `IOMMU_TEST_CMD`.
///
/// # Errors
///
/// `EOPNOTSUPP` for ops not provided, and each op's errors.
pub(crate) fn test_cmd(ucmd: &UCmd<'_>, cmd: &mut crate::uapi::TestCmd) -> Result {
    let args = &cmd.__bindgen_anon_1;
    match cmd.op {
        op::ADD_RESERVED => {
            // SAFETY: The union's members are plain integers: any bytes are a valid value of
            // each, so reading any of them is sound.
            let a = unsafe { args.add_reserved };
            add_reserved(ucmd, cmd.id, a.start, a.length)
        }
        op::MOCK_DOMAIN => stdev::mock_domain(ucmd, cmd, 0),
        op::MOCK_DOMAIN_FLAGS => {
            // SAFETY: As above.
            let flags = unsafe { args.mock_domain_flags.dev_flags };
            stdev::mock_domain(ucmd, cmd, flags)
        }
        op::MOCK_DOMAIN_REPLACE => {
            // SAFETY: As above.
            let pt_id = unsafe { args.mock_domain_replace.pt_id };
            let id = cmd.id;
            stdev::mock_domain_replace(ucmd, cmd, id, pt_id)
        }
        op::MD_CHECK_MAP => {
            // SAFETY: As above.
            let a = unsafe { args.check_map };
            stdev::check_map(ucmd, cmd.id, a.iova, a.length, a.uptr)
        }
        op::DIRTY => {
            // SAFETY: As above.
            let a = unsafe { args.dirty };
            let id = cmd.id;
            stdev::dirty(ucmd, cmd, id, a.iova, a.length, a.page_size, a.uptr)
        }
        op::DEV_CHECK_CACHE => {
            // SAFETY: As above.
            let a = unsafe { args.check_dev_cache };
            let idev = ucmd.ctx.objects.get::<IDevice>(cmd.id)?;
            mock::check_cache(&idev.dev, a.id, a.cache)
        }
        op::MD_CHECK_REFS => {
            // SAFETY: As above.
            let a = unsafe { args.check_refs };
            check_refs(a.uptr, a.length, a.refs)
        }
        op::SET_TEMP_MEMORY_LIMIT => {
            // SAFETY: As above.
            let a = unsafe { args.memory_limit };
            // As C: a batch must hold at least one element (a pfn and its run length).
            if (a.limit as usize) < size_of::<usize>() + size_of::<u32>() {
                return Err(EINVAL);
            }
            crate::pagetable::pages::TEMP_MEMORY_LIMIT.store(a.limit, Relaxed);
            Ok(())
        }
        op::CREATE_ACCESS => {
            // SAFETY: As above.
            let a = unsafe { args.create_access };
            let id = cmd.id;
            access::create(ucmd, cmd, id, a.flags)
        }
        op::ACCESS_REPLACE_IOAS => {
            // SAFETY: As above.
            let a = unsafe { args.access_replace_ioas };
            access::replace_ioas(cmd.id, a.ioas_id)
        }
        op::ACCESS_PAGES => {
            // SAFETY: As above.
            let a = unsafe { args.access_pages };
            let id = cmd.id;
            access::pages(ucmd, cmd, id, a.flags, a.iova, a.length, a.uptr)
        }
        op::DESTROY_ACCESS_PAGES => {
            // SAFETY: As above.
            let a = unsafe { args.destroy_access_pages };
            access::destroy_pages(cmd.id, a.access_pages_id)
        }
        op::ACCESS_RW => {
            // SAFETY: As above.
            let a = unsafe { args.access_rw };
            access::rw(cmd.id, a.iova, a.length, a.uptr, a.flags)
        }
        op::MD_CHECK_IOTLB => {
            // SAFETY: As above.
            let a = unsafe { args.check_iotlb };
            stdev::check_iotlb(ucmd, cmd.id, a.id, a.iotlb)
        }
        op::TRIGGER_IOPF => {
            // SAFETY: As above.
            let a = unsafe { args.trigger_iopf };
            let idev = ucmd.ctx.objects.get::<IDevice>(a.dev_id)?;
            mock::trigger_iopf(&idev.dev, a.pasid, a.grpid, a.perm, a.addr)
        }
        op::TRIGGER_VEVENT => {
            // SAFETY: As above.
            let a = unsafe { args.trigger_vevent };
            stdev::trigger_vevent(ucmd, a.dev_id)
        }
        op::DMABUF_GET => {
            // SAFETY: As above.
            let a = unsafe { args.dmabuf_get };
            dmabuf::get(ucmd, a.length, a.open_flags)
        }
        op::DMABUF_REVOKE => {
            // SAFETY: As above.
            let a = unsafe { args.dmabuf_revoke };
            dmabuf::revoke(a.dmabuf_fd, a.revoked != 0)
        }
        op::PASID_ATTACH => {
            // SAFETY: As above.
            let a = unsafe { args.pasid_attach };
            let id = cmd.id;
            stdev::pasid_change(ucmd, cmd, id, a.pasid, a.pt_id, false)
        }
        op::PASID_REPLACE => {
            // SAFETY: As above.
            let a = unsafe { args.pasid_replace };
            let id = cmd.id;
            stdev::pasid_change(ucmd, cmd, id, a.pasid, a.pt_id, true)
        }
        op::PASID_DETACH => {
            // SAFETY: As above.
            let a = unsafe { args.pasid_detach };
            stdev::pasid_detach(ucmd, cmd.id, a.pasid)
        }
        op::PASID_CHECK_HWPT => {
            // SAFETY: As above.
            let a = unsafe { args.pasid_check };
            stdev::pasid_check(ucmd, cmd.id, a.pasid, a.hwpt_id)
        }
        _ => Err(EOPNOTSUPP),
    }
}

/// `MOCK_FLAGS_ACCESS_SYZ`: the IOVA argument is not an IOVA but a `struct { u32 nth_area;
/// u32 offset; }` in its bytes, which syzkaller can hit by chance.
pub(crate) const FLAGS_ACCESS_SYZ: u32 = kernel::uapi::MOCK_FLAGS_ACCESS_SYZ;

/// The IOVA a syzkaller-style `iova` names in `ioas`: `offset` bytes into its `nth_area`-th
/// mapping, or 0 if it has fewer (C's `__iommufd_test_syz_conv_iova`).
pub(crate) fn syz_conv_iova(ioas: &Ioas, iova: u64) -> u64 {
    let b = iova.to_ne_bytes();
    let nth = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
    let offset = u32::from_ne_bytes([b[4], b[5], b[6], b[7]]);
    ioas.iopt.nth_area_iova(nth, offset)
}

/// For `IOMMU_IOAS_COPY` with `MOCK_FLAGS_ACCESS_SYZ` in `flags`: clears the flag and
/// converts `iova`, an IOVA of the IOAS `ioas_id`, as [`syz_conv_iova`] does; an unknown
/// IOAS leaves it as is (C's `iommufd_test_syz_conv_iova_id`).
fn syz_conv_iova_id(ucmd: &UCmd<'_>, ioas_id: u32, iova: &mut u64, flags: &mut u32) {
    if *flags & FLAGS_ACCESS_SYZ == 0 {
        return;
    }
    *flags &= !FLAGS_ACCESS_SYZ;
    if let Ok(ioas) = ucmd.ctx.objects.get::<Ioas>(ioas_id) {
        *iova = syz_conv_iova(&ioas, *iova);
    }
}

/// `IOMMU_TEST_OP_ADD_RESERVED`: reserves IOVA in an IOAS, as a device's reserved region
/// would.
fn add_reserved(ucmd: &UCmd<'_>, ioas_id: u32, start: u64, length: u64) -> Result {
    if length == 0 {
        return Err(EINVAL);
    }
    let last = start.checked_add(length - 1).ok_or(EOVERFLOW)?;
    let ioas = ucmd.ctx.objects.get::<Ioas>(ioas_id)?;
    ioas.iopt.reserve(IovaRange { start, last })
}

/// `IOMMU_TEST_OP_MD_CHECK_REFS`: checks that every page of a user buffer is pinned `refs`
/// times (compound pages are not checked, as in C).
fn check_refs(uptr: u64, length: u64, refs: u32) -> Result {
    let page = PAGE_SIZE as u64;
    if length % page != 0 || uptr % page != 0 || uptr.checked_add(length).is_none() {
        return Err(EINVAL);
    }
    let mut addr = uptr as usize;
    for _ in 0..length / page {
        let (compound, count) = with_user_page(addr, |p| {
            // SAFETY: `p` is a page we hold a reference on.
            unsafe {
                (
                    bindings::PageCompound(p),
                    bindings::page_ref_count(p) as u32,
                )
            }
        })?;
        if !compound && count / bindings::GUP_PIN_COUNTING_BIAS != refs {
            return Err(EIO);
        }
        addr += PAGE_SIZE;
    }
    Ok(())
}

/// Runs `f` on the page mapped at the user address `addr`, holding a reference on it.
///
/// # Errors
///
/// `EFAULT` if nothing is mapped there, as `get_user_pages_fast` fails.
fn with_user_page<R>(addr: usize, f: impl FnOnce(*mut bindings::page) -> R) -> Result<R> {
    let mut p: *mut bindings::page = core::ptr::null_mut();
    // SAFETY: `p` has room for the one page asked for; the address is a user address,
    // which the function validates.
    let n = unsafe { bindings::get_user_pages_fast(addr, 1, 0, &mut p) };
    if n < 0 {
        return Err(Error::from_errno(n as i32));
    }
    if n != 1 {
        return Err(EFAULT);
    }
    let r = f(p);
    // SAFETY: Drops the reference `get_user_pages_fast` took, once.
    unsafe { bindings::put_page(p) };
    Ok(r)
}

/// The pfn of the page mapped at the user address `addr`.
///
/// # Errors
///
/// As [`with_user_page`].
fn user_pfn(addr: usize) -> Result<usize> {
    // SAFETY: `p` is a page we hold a reference on.
    with_user_page(addr, |p| unsafe { bindings::page_to_pfn(p) } as usize)
}
