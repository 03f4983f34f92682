// SPDX-License-Identifier: GPL-2.0

//! The VFIO type1 container ioctls on `/dev/iommu`, for programs written for
//! `/dev/vfio/vfio` (C's `vfio_compat.c`).
//!
//! They act on the context's compatibility IOAS (`IOMMU_VFIO_IOAS`, or the one VFIO creates
//! when a group joins the container): `VFIO_GET_API_VERSION`, `VFIO_CHECK_EXTENSION`,
//! `VFIO_SET_IOMMU`, `VFIO_IOMMU_GET_INFO` (page sizes, the usable IOVA ranges and the DMA
//! mapping limit as capabilities), `VFIO_IOMMU_MAP_DMA` and `VFIO_IOMMU_UNMAP_DMA`. Their
//! structs are VFIO's (`argsz` first, minimum sizes by `offsetofend`), not iommufd's.
//!
//! Type1 (as opposed to type1v2) may unmap inside a mapping: it turns huge IOPTEs off, and
//! its unmaps first cut the mappings at both ends of the range. Not provided: the no-IOMMU
//! mode.

use kernel::{
    ioctl::_IO,
    page::PAGE_SIZE,
    prelude::*,
    uaccess::{UserPtr, UserSlice},
    uapi,
};

use crate::{
    ctx::IommufdCtx,
    object::ObjRef,
    pagetable::{area::Prot, hwpt::HwptPaging, ioas, iopt::IOVA_SPACE, iova::IovaRange, Ioas},
    trace,
};

/// The VFIO ioctl numbers (type `';'`, from `VFIO_BASE`).
mod nr {
    use kernel::uapi;

    pub(super) const GET_API_VERSION: u32 = uapi::VFIO_BASE;
    pub(super) const CHECK_EXTENSION: u32 = uapi::VFIO_BASE + 1;
    pub(super) const SET_IOMMU: u32 = uapi::VFIO_BASE + 2;
    pub(super) const IOMMU_GET_INFO: u32 = uapi::VFIO_BASE + 12;
    pub(super) const IOMMU_MAP_DMA: u32 = uapi::VFIO_BASE + 13;
    pub(super) const IOMMU_UNMAP_DMA: u32 = uapi::VFIO_BASE + 14;
}

/// The compatibility IOAS.
fn compat_ioas(ctx: &IommufdCtx) -> Result<ObjRef<Ioas>> {
    ctx.objects.get_compat::<Ioas>().map(|(_, ioas)| ioas)
}

/// Handles an ioctl that is not an iommufd command; returns the ioctl's value.
///
/// # Errors
///
/// `ENOTTY` for an ioctl that is not one of these, and each one's errors.
pub(crate) fn ioctl(ctx: &IommufdCtx, cmd: u32, arg: usize) -> Result<isize> {
    let ty = u32::from(uapi::VFIO_TYPE);
    let is = |n: u32| cmd == _IO(ty, n);
    if is(nr::GET_API_VERSION) {
        Ok(uapi::VFIO_API_VERSION as isize)
    } else if is(nr::CHECK_EXTENSION) {
        check_extension(ctx, arg)
    } else if is(nr::SET_IOMMU) {
        set_iommu(ctx, arg).map(|()| 0)
    } else if is(nr::IOMMU_GET_INFO) {
        get_info(ctx, arg).map(|()| 0)
    } else if is(nr::IOMMU_MAP_DMA) {
        map_dma(ctx, arg).map(|()| 0)
    } else if is(nr::IOMMU_UNMAP_DMA) {
        unmap_dma(ctx, arg).map(|()| 0)
    } else {
        Err(ENOTTY)
    }
}

/// `VFIO_CHECK_EXTENSION`: 1 for what the emulation provides, else 0. In no-IOMMU mode
/// (VFIO attached a device without an IOMMU) the type1 ones are not provided;
/// `VFIO_NOIOMMU_IOMMU` is when VFIO has no-IOMMU support.
fn check_extension(ctx: &IommufdCtx, ext: usize) -> Result<isize> {
    let ext = u32::try_from(ext).unwrap_or(u32::MAX);
    Ok(match ext {
        uapi::VFIO_TYPE1_IOMMU | uapi::VFIO_TYPE1v2_IOMMU | uapi::VFIO_UNMAP_ALL => {
            isize::from(!ctx.objects.no_iommu())
        }
        uapi::VFIO_NOIOMMU_IOMMU => isize::from(cfg!(CONFIG_VFIO_NOIOMMU)),
        uapi::VFIO_DMA_CC_IOMMU => {
            // Coherent only if every HWPT of the compatibility IOAS enforces it.
            let ioas = compat_ioas(ctx)?;
            let all = ctx.objects.all::<HwptPaging>()?;
            let incoherent = all
                .iter()
                .any(|h| core::ptr::eq::<Ioas>(&*h.ioas, &*ioas) && !h.coherent());
            isize::from(!incoherent)
        }
        _ => 0,
    })
}

/// `VFIO_SET_IOMMU`: type1v2 is the IOAS as it is; type1, which may unmap inside a
/// mapping, turns off huge IOPTEs. In no-IOMMU mode only `VFIO_NOIOMMU_IOMMU` is accepted
/// (for `CAP_SYS_RAWIO`, `EPERM` otherwise), and there is nothing to set up.
fn set_iommu(ctx: &IommufdCtx, ty: usize) -> Result {
    let ty = u32::try_from(ty).map_err(|_| EINVAL)?;
    let no_iommu = ctx.objects.no_iommu();
    if cfg!(CONFIG_VFIO_NOIOMMU) && ty == uapi::VFIO_NOIOMMU_IOMMU && no_iommu {
        return if kernel::capability::capable(kernel::capability::Capability::SYS_RAWIO) {
            Ok(())
        } else {
            Err(EPERM)
        };
    }
    if (ty != uapi::VFIO_TYPE1_IOMMU && ty != uapi::VFIO_TYPE1v2_IOMMU) || no_iommu {
        return Err(EINVAL);
    }
    // VFIO fails without a group, that is without a compatibility IOAS.
    let ioas = compat_ioas(ctx)?;
    if ty == uapi::VFIO_TYPE1_IOMMU {
        ioas.iopt.set_large_pages(false)?;
    }
    Ok(())
}

/// Reads the first `N` bytes of VFIO's struct at `arg` and checks its `argsz` (the first
/// `u32`) against `N`.
fn read_min<const N: usize>(arg: usize) -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    UserSlice::new(UserPtr::from_addr(arg), N)
        .reader()
        .read_slice(&mut bytes)?;
    if (u32_at(&bytes, 0) as usize) < N {
        return Err(EINVAL);
    }
    Ok(bytes)
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_ne_bytes(a)
}

/// Writes `bytes` at user address `addr`.
fn put(addr: usize, bytes: &[u8]) -> Result {
    UserSlice::new(UserPtr::from_addr(addr), bytes.len())
        .writer()
        .write_slice(bytes)
}

/// `VFIO_IOMMU_MAP_DMA` (`struct vfio_iommu_type1_dma_map`: argsz, flags, vaddr, iova,
/// size): maps user memory at a fixed IOVA of the compatibility IOAS.
fn map_dma(ctx: &IommufdCtx, arg: usize) -> Result {
    let b = read_min::<32>(arg)?;
    let flags = u32_at(&b, 4);
    let supported = uapi::VFIO_DMA_MAP_FLAG_READ | uapi::VFIO_DMA_MAP_FLAG_WRITE;
    if flags & !supported != 0 {
        return Err(EINVAL);
    }
    let prot = Prot {
        read: flags & uapi::VFIO_DMA_MAP_FLAG_READ != 0,
        write: flags & uapi::VFIO_DMA_MAP_FLAG_WRITE != 0,
    };
    let (vaddr, iova, size) = (u64_at(&b, 8), u64_at(&b, 16), u64_at(&b, 24));
    let (id, ioas) = ctx.objects.get_compat::<Ioas>()?;
    let fixed = uapi::iommufd_ioas_map_flags_IOMMU_IOAS_MAP_FIXED_IOVA;
    let res =
        ioas::map_user(ctx, &ioas, vaddr as usize, size as usize, fixed, iova, prot).map(|_| ());
    trace::map(ctx.objects.seq(), id, iova, size, fixed, &res);
    res
}

/// `VFIO_IOMMU_UNMAP_DMA` (`struct vfio_iommu_type1_dma_unmap`: argsz, flags, iova,
/// size): unmaps the mappings inside the range (or all, with `VFIO_DMA_UNMAP_FLAG_ALL`);
/// answers with the bytes unmapped. Unmapping nothing succeeds, as in VFIO.
fn unmap_dma(ctx: &IommufdCtx, arg: usize) -> Result {
    let mut b = read_min::<24>(arg)?;
    let flags = u32_at(&b, 4);
    if flags & !uapi::VFIO_DMA_UNMAP_FLAG_ALL != 0 {
        return Err(EINVAL);
    }
    let (iova, size) = (u64_at(&b, 8), u64_at(&b, 16));
    let (id, ioas) = ctx.objects.get_compat::<Ioas>()?;
    let range = if flags & uapi::VFIO_DMA_UNMAP_FLAG_ALL != 0 {
        if iova != 0 || size != 0 {
            return Err(EINVAL);
        }
        IOVA_SPACE
    } else {
        if !ioas.iopt.large_pages() {
            // Type1: cut at both ends of the range (no cut needed before IOVA 0). As in C,
            // before the range is checked.
            let cuts = [
                iova.wrapping_add(size).wrapping_sub(1),
                iova.wrapping_sub(1),
            ];
            ioas.iopt.cut(&cuts[..if iova != 0 { 2 } else { 1 }])?;
        }
        if size == 0 {
            return Err(EINVAL);
        }
        let last = iova.checked_add(size - 1).ok_or(EOVERFLOW)?;
        // The kernel's IOVA is an `unsigned long`.
        usize::try_from(last).map_err(|_| EOVERFLOW)?;
        IovaRange { start: iova, last }
    };
    let mut unmapped = 0;
    let r = ioas.iopt.unmap_counted(range, &mut unmapped);
    trace::unmap(ctx.objects.seq(), id, iova, size, unmapped, &r);
    // As C: the bytes unmapped go back to the user, also when the unmap failed part way.
    b[16..24].copy_from_slice(&unmapped.to_ne_bytes());
    put(arg, &b)?;
    r
}

/// The size of `struct vfio_iommu_type1_info`, and where its capabilities may start.
const INFO_SIZE: usize = 24;

/// `VFIO_IOMMU_GET_INFO` (`struct vfio_iommu_type1_info`: argsz, flags, iova_pgsizes,
/// cap_offset): the page sizes, and as capabilities the DMA mapping limit and the usable
/// IOVA ranges, chained after the struct as far as `argsz` holds them; `argsz` comes back
/// as the size all of them need.
fn get_info(ctx: &IommufdCtx, arg: usize) -> Result {
    let b = read_min::<16>(arg)?;
    let argsz = u32_at(&b, 0) as usize;
    let ioas = compat_ioas(ctx)?;
    let domains = ioas.iopt.domains.read();
    let state = ioas.iopt.state.lock();

    // The page sizes every domain supports, at least a CPU page, as VFIO reports them.
    let mut pgsizes = domains
        .iter()
        .fold(usize::MAX, |acc, d| acc & d.domain.pgsize_bitmap()) as u64;
    let page = PAGE_SIZE as u64;
    if pgsizes & (page - 1) != 0 {
        pgsizes &= !(page - 1);
        pgsizes |= page;
    }
    pgsizes = pgsizes.max(state.iova_alignment);

    // The capabilities: each is written only if it fits whole.
    let mut total = INFO_SIZE;
    let mut last_cap: Option<usize> = None;
    let holes: KVec<IovaRange> = {
        let mut v = KVec::new();
        for h in state.reserved.holes(IOVA_SPACE) {
            v.push(h, GFP_KERNEL)?;
        }
        v
    };
    for cap in 0..2 {
        let avail = argsz.saturating_sub(total);
        let at = arg + total;
        let size = if cap == 0 {
            // VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL: iommufd's limit is the memory cgroup's;
            // report U32_MAX, as C does (S390 QEMU needs more than VFIO's U16_MAX).
            let mut c = [0u8; 12];
            c[0..2].copy_from_slice(&(uapi::VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL as u16).to_ne_bytes());
            c[2..4].copy_from_slice(&1u16.to_ne_bytes());
            c[8..12].copy_from_slice(&u32::MAX.to_ne_bytes());
            if avail >= c.len() {
                put(at, &c)?;
            }
            c.len()
        } else {
            // VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE: the holes of the reserved IOVA.
            let size_for = |n: usize| 16 + 16 * n;
            for (i, h) in holes.iter().enumerate() {
                if avail >= size_for(i + 1) {
                    let mut r = [0u8; 16];
                    r[0..8].copy_from_slice(&h.start.to_ne_bytes());
                    r[8..16].copy_from_slice(&h.last.to_ne_bytes());
                    put(at + size_for(i), &r)?;
                }
            }
            let mut c = [0u8; 16];
            c[0..2].copy_from_slice(
                &(uapi::VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE as u16).to_ne_bytes(),
            );
            c[2..4].copy_from_slice(&1u16.to_ne_bytes());
            c[8..12].copy_from_slice(&(holes.len() as u32).to_ne_bytes());
            if avail >= size_for(holes.len()) {
                put(at, &c)?;
            }
            size_for(holes.len())
        };
        let size = size.next_multiple_of(8);
        if let Some(prev) = last_cap {
            if argsz >= total {
                // The previous capability's `next`.
                put(prev + 4, &(total as u32).to_ne_bytes())?;
            }
        }
        last_cap = Some(at);
        total += size;
    }

    let mut info = [0u8; INFO_SIZE];
    info[0..4].copy_from_slice(&(total as u32).to_ne_bytes());
    let flags = uapi::VFIO_IOMMU_INFO_PGSIZES | uapi::VFIO_IOMMU_INFO_CAPS;
    info[4..8].copy_from_slice(&flags.to_ne_bytes());
    info[8..16].copy_from_slice(&pgsizes.to_ne_bytes());
    let cap_offset = if argsz >= total { INFO_SIZE as u32 } else { 0 };
    info[16..20].copy_from_slice(&cap_offset.to_ne_bytes());
    put(arg, &info[..argsz.min(INFO_SIZE)])
}
