// SPDX-License-Identifier: GPL-2.0

//! The IOAS object: an IO address space, and the ioctls that act on it.
//!
//! # Lifetime
//!
//! Created by `IOMMU_IOAS_ALLOC`, destroyed by `IOMMU_DESTROY` (when nothing else uses it) or
//! when its file is closed. It owns its [`IoPageTable`].

use kernel::{
    alloc::flags::GFP_KERNEL_ACCOUNT,
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex, SetOnce},
    uaccess::{UserPtr, UserSlice},
};

use super::{
    area::Prot,
    iopt::{IoPageTable, IovaChoice, MapPiece, PagesSlice, IOVA_SPACE},
    iova::{self, IovaSet},
    pages::{self, Pages, PinAccount},
};
use crate::{
    object::ObjectHeader,
    trace,
    uapi::{self, map_flags, vfio_ioas_op, IovaRange},
    ucmd::UCmd,
};

/// An IO address space.
#[pin_data]
pub(crate) struct Ioas {
    header: ObjectHeader,
    /// Its IO page table.
    #[pin]
    pub(crate) iopt: IoPageTable,
    /// The ids of the automatic HWPTs built on it, which an attach to the IOAS may reuse
    /// (C's `hwpt_list`). Also serialises automatic attaches, as C's `ioas->mutex`.
    #[pin]
    pub(crate) auto_hwpts: Mutex<KVec<u32>>,
}

crate::object::object_type!(Ioas, Ioas);

impl Ioas {
    /// A new, empty IOAS.
    pub(crate) fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                header: ObjectHeader::new(),
                iopt <- IoPageTable::new(),
                auto_hwpts <- new_mutex!(KVec::new()),
            }),
            GFP_KERNEL_ACCOUNT,
        )
    }
}

impl Ioas {
    /// Forgets the automatic HWPT `id`, which is going away.
    pub(crate) fn forget_auto_hwpt(&self, id: u32) {
        self.auto_hwpts.lock().retain(|h| *h != id);
    }
}

/// `IOMMU_IOAS_ALLOC`: creates an empty IOAS.
///
/// # Errors
///
/// `EOPNOTSUPP` for non-zero flags, `ENOMEM`, `EFAULT`.
pub(crate) fn alloc(ucmd: &UCmd<'_>, cmd: &mut uapi::IoasAlloc) -> Result {
    if cmd.flags != 0 {
        return Err(EOPNOTSUPP);
    }
    let reservation = ucmd.ctx.objects.reserve()?;
    let ioas = Ioas::new()?;
    cmd.out_ioas_id = reservation.id();
    let prepared = reservation.prepare(ioas)?;
    ucmd.respond(cmd)?;
    prepared.publish();
    Ok(())
}

/// `IOMMU_IOAS_IOVA_RANGES`: reports the IOVA ranges that mappings may use.
///
/// Writes up to `num_iovas` ranges and sets `num_iovas` to how many there are.
///
/// # Errors
///
/// `EOPNOTSUPP` for a non-zero reserved field, `ENOENT` for an unknown IOAS, `EMSGSIZE` when
/// the array was too small (after the struct was updated), `EFAULT`.
pub(crate) fn iova_ranges(ucmd: &UCmd<'_>, cmd: &mut uapi::IoasIovaRanges) -> Result {
    if cmd.__reserved != 0 {
        return Err(EOPNOTSUPP);
    }
    let ioas = ucmd.ctx.objects.get::<Ioas>(cmd.ioas_id)?;
    let state = ioas.iopt.state.lock();
    let room = cmd.num_iovas;
    let entry = core::mem::size_of::<IovaRange>();
    let mut out = UserSlice::new(
        UserPtr::from_addr(cmd.allowed_iovas as usize),
        room as usize * entry,
    )
    .writer();
    cmd.num_iovas = 0;
    cmd.out_iova_alignment = state.iova_alignment;
    for hole in state.reserved.holes(IOVA_SPACE) {
        if cmd.num_iovas < room {
            out.write(&IovaRange(kernel::uapi::iommu_iova_range {
                start: hole.start,
                last: hole.last,
            }))?;
        }
        cmd.num_iovas += 1;
    }
    ucmd.respond(cmd)?;
    if cmd.num_iovas > room {
        return Err(EMSGSIZE);
    }
    Ok(())
}

/// Checks the flags of the map family, and returns the access they grant.
///
/// # Errors
///
/// `EOPNOTSUPP` for unknown flags, `EINVAL` if neither READABLE nor WRITEABLE is set.
fn map_prot(flags: u32) -> Result<Prot> {
    if flags & !map_flags::ALL != 0 {
        return Err(EOPNOTSUPP);
    }
    let prot = Prot {
        read: flags & map_flags::READABLE != 0,
        write: flags & map_flags::WRITEABLE != 0,
    };
    Ok(prot)
}

/// Checks that each of `values` is below `ULONG_MAX`: the kernel's IOVA and lengths are
/// `unsigned long`, and C refuses `ULONG_MAX` itself.
fn check_limits(values: &[u64]) -> Result {
    if values
        .iter()
        .any(|&v| usize::try_from(v).map_or(true, |v| v == usize::MAX))
    {
        return Err(EOVERFLOW);
    }
    Ok(())
}

/// Requires that a mapping grants some access.
fn require_access(prot: Prot) -> Result {
    if !prot.read && !prot.write {
        return Err(EINVAL);
    }
    Ok(())
}

/// `IOMMU_IOAS_MAP`: maps user memory at an IOVA.
///
/// The memory is not pinned until something needs it (a hardware page table or an
/// in-kernel access), as in C.
///
/// # Errors
///
/// `EOPNOTSUPP` for unknown flags or a non-zero reserved field, `EOVERFLOW` for an IOVA or
/// length of `ULONG_MAX` or more, `EINVAL` for a mapping without access or a bad range,
/// `ENOENT` for an unknown IOAS, and the errors of [`IoPageTable::map`].
pub(crate) fn map(ucmd: &UCmd<'_>, cmd: &mut uapi::IoasMap) -> Result {
    let res = map_inner(ucmd, cmd);
    let ctx = ucmd.ctx.objects.seq();
    trace::map(ctx, cmd.ioas_id, cmd.iova, cmd.length, cmd.flags, &res);
    res
}

fn map_inner(ucmd: &UCmd<'_>, cmd: &mut uapi::IoasMap) -> Result {
    let prot = map_prot(cmd.flags)?;
    if cmd.__reserved != 0 {
        return Err(EOPNOTSUPP);
    }
    check_limits(&[cmd.iova, cmd.length])?;
    require_access(prot)?;
    let ioas = ucmd.ctx.objects.get::<Ioas>(cmd.ioas_id)?;
    cmd.iova = map_user(
        ucmd.ctx,
        &ioas,
        cmd.user_va as usize,
        cmd.length as usize,
        cmd.flags,
        cmd.iova,
        prot,
    )?;
    ucmd.respond(cmd)
}

/// Maps `length` bytes of user memory from `uptr` into `ioas`, at `iova` if `flags` has
/// `IOMMU_IOAS_MAP_FIXED_IOVA`, else where the allocator finds room; returns the IOVA.
/// Shared by `IOMMU_IOAS_MAP` and the VFIO compatibility `VFIO_IOMMU_MAP_DMA`.
///
/// # Errors
///
/// As [`IoPageTable::map`], and `ENOMEM`.
pub(crate) fn map_user(
    ctx: &crate::ctx::IommufdCtx,
    ioas: &Ioas,
    uptr: usize,
    length: usize,
    flags: u32,
    iova: u64,
    prot: Prot,
) -> Result<u64> {
    let (pages, offset) = Pages::new_user(uptr, length, prot.write, ctx.account_mode())?;
    map_one(ioas, pages, offset, length, flags, iova, prot)
}

/// Maps `length` bytes of `pages` from `offset` into `ioas`, at `iova` with
/// `IOMMU_IOAS_MAP_FIXED_IOVA` in `flags`, else where the allocator chooses.
fn map_one(
    ioas: &Ioas,
    pages: Arc<Pages>,
    offset: usize,
    length: usize,
    flags: u32,
    iova: u64,
    prot: Prot,
) -> Result<u64> {
    let at = if flags & map_flags::FIXED_IOVA != 0 {
        IovaChoice::Fixed(iova)
    } else {
        IovaChoice::Alloc(pages.source_address(offset))
    };
    let mut piece = [MapPiece::new(PagesSlice {
        pages,
        start_byte: offset,
        length,
    })?];
    ioas.iopt.map(&mut piece, length as u64, at, prot)
}

/// `IOMMU_IOAS_MAP_FILE`: maps a span of a file (a memfd) by offset.
///
/// # Errors
///
/// As [`map`]; `EBADF` for a bad descriptor.
pub(crate) fn map_file(ucmd: &UCmd<'_>, cmd: &mut uapi::IoasMapFile) -> Result {
    let res = map_file_inner(ucmd, cmd);
    let ctx = ucmd.ctx.objects.seq();
    trace::map(ctx, cmd.ioas_id, cmd.iova, cmd.length, cmd.flags, &res);
    res
}

fn map_file_inner(ucmd: &UCmd<'_>, cmd: &mut uapi::IoasMapFile) -> Result {
    let prot = map_prot(cmd.flags)?;
    check_limits(&[cmd.iova, cmd.length])?;
    require_access(prot)?;
    let ioas = ucmd.ctx.objects.get::<Ioas>(cmd.ioas_id)?;
    let length = cmd.length as usize;
    if length == 0 {
        return Err(EINVAL);
    }
    cmd.start.checked_add(length as u64 - 1).ok_or(EOVERFLOW)?;
    // A dma-buf is imported; any other descriptor is pinned as a file.
    let (pages, offset) = match Pages::new_dmabuf(
        cmd.fd,
        &ucmd.ctx.dev,
        cmd.start,
        length,
        prot.write,
        ucmd.ctx.account_mode(),
    ) {
        Some(r) => r?,
        None => Pages::new_file(
            || ucmd.fget(cmd.fd),
            cmd.start,
            length,
            prot.write,
            ucmd.ctx.account_mode(),
        )?,
    };
    cmd.iova = map_one(&ioas, pages, offset, length, cmd.flags, cmd.iova, prot)?;
    ucmd.respond(cmd)
}

/// `IOMMU_IOAS_COPY`: maps, in one IOAS, memory already mapped in another (or the same).
///
/// The new mapping shares the source's [`Pages`]: memory is pinned once for both.
///
/// # Errors
///
/// As [`map`]; `ENOENT` if the source range is not fully mapped.
pub(crate) fn copy(ucmd: &UCmd<'_>, cmd: &mut uapi::IoasCopy) -> Result {
    let res = copy_inner(ucmd, cmd);
    let ctx = ucmd.ctx.objects.seq();
    trace::map(
        ctx,
        cmd.dst_ioas_id,
        cmd.dst_iova,
        cmd.length,
        cmd.flags,
        &res,
    );
    res
}

/// A hook that reads `IOMMU_IOAS_COPY`'s source before it is checked: the test driver's,
/// for syzkaller, which names the source IOVA by area (the test command's convention, as
/// in C).
pub(crate) type CopySourceHook = fn(&UCmd<'_>, &mut uapi::IoasCopy);

/// The hook the test driver registered, if any.
static COPY_SOURCE: SetOnce<CopySourceHook> = SetOnce::new();

/// Registers the hook of [`CopySourceHook`], when the module loads: the IO page table
/// layer does not know the test driver.
pub(crate) fn register_copy_source(hook: CopySourceHook) {
    kernel::warn_on!(!COPY_SOURCE.populate(hook));
}

fn copy_inner(ucmd: &UCmd<'_>, cmd: &mut uapi::IoasCopy) -> Result {
    if let Some(hook) = COPY_SOURCE.as_ref() {
        hook(ucmd, cmd);
    }
    let prot = map_prot(cmd.flags)?;
    check_limits(&[cmd.length, cmd.src_iova, cmd.dst_iova])?;
    require_access(prot)?;
    let mut pieces = {
        let src_ioas = ucmd.ctx.objects.get::<Ioas>(cmd.src_ioas_id)?;
        if cmd.length == 0 {
            return Err(EINVAL);
        }
        let last = cmd.src_iova.checked_add(cmd.length - 1).ok_or(EOVERFLOW)?;
        let src = iova::IovaRange::new(cmd.src_iova, last).ok_or(EOVERFLOW)?;
        src_ioas.iopt.slices(src)?
    };
    let dst = ucmd.ctx.objects.get::<Ioas>(cmd.dst_ioas_id)?;
    let at = if cmd.flags & map_flags::FIXED_IOVA != 0 {
        IovaChoice::Fixed(cmd.dst_iova)
    } else {
        let first = &pieces.first().ok_or(EINVAL)?.slice;
        IovaChoice::Alloc(first.pages.source_address(first.start_byte))
    };
    cmd.dst_iova = dst.iopt.map(&mut pieces, cmd.length, at, prot)?;
    ucmd.respond(cmd)
}

/// `IOMMU_IOAS_UNMAP`: unmaps every mapping inside a range.
///
/// `iova` 0 with `length` `U64_MAX` unmaps everything (and succeeds on an empty IOAS).
/// The bytes unmapped are returned in `length`.
///
/// # Errors
///
/// `ENOENT` for an unknown IOAS, when nothing is mapped in the range, or when the range
/// would split a mapping; `EINVAL` for a zero length; `EOVERFLOW`.
pub(crate) fn unmap(ucmd: &UCmd<'_>, cmd: &mut uapi::IoasUnmap) -> Result {
    let asked = cmd.length;
    let res = unmap_inner(ucmd, cmd);
    let unmapped = if res.is_ok() { cmd.length } else { 0 };
    let ctx = ucmd.ctx.objects.seq();
    trace::unmap(ctx, cmd.ioas_id, cmd.iova, asked, unmapped, &res);
    res
}

fn unmap_inner(ucmd: &UCmd<'_>, cmd: &mut uapi::IoasUnmap) -> Result {
    let ioas = ucmd.ctx.objects.get::<Ioas>(cmd.ioas_id)?;
    let unmapped = if cmd.iova == 0 && cmd.length == u64::MAX {
        ioas.iopt.unmap(IOVA_SPACE)?
    } else {
        check_limits(&[cmd.iova, cmd.length])?;
        if cmd.length == 0 {
            return Err(EINVAL);
        }
        let last = cmd.iova.checked_add(cmd.length - 1).ok_or(EOVERFLOW)?;
        let range = iova::IovaRange::new(cmd.iova, last).ok_or(EOVERFLOW)?;
        match ioas.iopt.unmap(range)? {
            0 => return Err(ENOENT),
            n => n,
        }
    };
    cmd.length = unmapped;
    ucmd.respond(cmd)
}

/// `IOMMU_IOAS_ALLOW_IOVAS`: restricts the IOVA the kernel may choose for mappings.
///
/// An empty list allows everything again. Mappings already made, and mappings at a fixed
/// IOVA, are not affected.
///
/// # Errors
///
/// `EOPNOTSUPP` for a non-zero reserved field, `ENOENT` for an unknown IOAS, `EINVAL` for a
/// range whose start is not below its last or that overlaps another of the list,
/// `EADDRINUSE` if a range is reserved, `EFAULT`, `ENOMEM`.
pub(crate) fn allow_iovas(ucmd: &UCmd<'_>, cmd: &mut uapi::IoasAllowIovas) -> Result {
    if cmd.__reserved != 0 {
        return Err(EOPNOTSUPP);
    }
    let ioas = ucmd.ctx.objects.get::<Ioas>(cmd.ioas_id)?;
    let entry = core::mem::size_of::<IovaRange>();
    let mut reader = UserSlice::new(
        UserPtr::from_addr(cmd.allowed_iovas as usize),
        (cmd.num_iovas as usize)
            .checked_mul(entry)
            .ok_or(EOVERFLOW)?,
    )
    .reader();
    let mut allowed = IovaSet::new();
    for _ in 0..cmd.num_iovas {
        let r: IovaRange = reader.read()?;
        if r.0.start >= r.0.last {
            return Err(EINVAL);
        }
        let range = iova::IovaRange {
            start: r.0.start,
            last: r.0.last,
        };
        if allowed.intersects(range) {
            return Err(EINVAL);
        }
        allowed.insert(range)?;
    }
    ioas.iopt.set_allowed(allowed)
}

/// `IOMMU_VFIO_IOAS`: gets, sets or clears the IOAS the VFIO compatibility layer uses.
///
/// # Errors
///
/// `EOPNOTSUPP` for a non-zero reserved field or an unknown op, `ENODEV` for `GET` when
/// there is none, `ENOENT` for `SET` of an unknown IOAS, `EFAULT`.
pub(crate) fn vfio_ioas(ucmd: &UCmd<'_>, cmd: &mut uapi::VfioIoas) -> Result {
    if cmd.__reserved != 0 {
        return Err(EOPNOTSUPP);
    }
    match cmd.op {
        vfio_ioas_op::GET => {
            let (id, _ioas) = ucmd.ctx.objects.get_compat::<Ioas>()?;
            cmd.ioas_id = id;
            ucmd.respond(cmd)
        }
        vfio_ioas_op::SET => ucmd.ctx.objects.set_compat::<Ioas>(cmd.ioas_id),
        vfio_ioas_op::CLEAR => {
            ucmd.ctx.objects.clear_compat();
            Ok(())
        }
        _ => Err(EOPNOTSUPP),
    }
}

/// Sorts `v` by the address of each `Pages` (a heapsort: no allocation, and unlike
/// `core`'s sorts no call to a panicking helper that objtool does not know to be
/// `noreturn`, which it reports at `-O2`).
fn sort_by_address(v: &mut [Arc<Pages>]) {
    let key = |p: &Arc<Pages>| Arc::as_ptr(p) as usize;
    // Moves `v[root]` down the heap `v[..end]` until both children are below it.
    let sift_down = |v: &mut [Arc<Pages>], mut root: usize, end: usize| loop {
        let mut child = 2 * root + 1;
        if child >= end {
            return;
        }
        if child + 1 < end && key(&v[child + 1]) > key(&v[child]) {
            child += 1;
        }
        if key(&v[root]) >= key(&v[child]) {
            return;
        }
        v.swap(root, child);
        root = child;
    };
    for root in (0..v.len() / 2).rev() {
        sift_down(v, root, v.len());
    }
    for end in (1..v.len()).rev() {
        v.swap(0, end);
        sift_down(v, 0, end);
    }
}

/// `IOMMU_IOAS_CHANGE_PROCESS`: makes the calling process the owner of the memory of every
/// mapping of the context, which must all be of files (`IOMMU_IOAS_MAP_FILE`): pins are
/// charged to it from now on, and what is pinned now moves to it. A VMM calls it after
/// handing its context to a new process (live update).
///
/// Everything is charged to the caller first, against its limit; only then do the old owners
/// get their charges back. Concurrent calls are serialised.
///
/// # Errors
///
/// `EOPNOTSUPP` for a non-zero reserved field, `EINVAL` if a mapping is not of a file,
/// `ENOMEM` (also over the caller's `RLIMIT_MEMLOCK`); nothing changed then.
pub(crate) fn change_process(ucmd: &UCmd<'_>, cmd: &mut uapi::IoasChangeProcess) -> Result {
    if cmd.__reserved != 0 {
        return Err(EOPNOTSUPP);
    }
    let _serial = ucmd.ctx.change_process_lock.lock();
    let mut all = KVec::new();
    for ioas in ucmd.ctx.objects.all::<Ioas>()?.iter() {
        ioas.iopt.file_pages(&mut all)?;
    }
    // Copies share a `Pages`: move each once.
    sort_by_address(&mut all);
    let mut prev = core::ptr::null();
    all.retain(|p| {
        let cur = Arc::as_ptr(p);
        let first = cur != prev;
        prev = cur;
        first
    });
    let mut moves = KVec::with_capacity(all.len(), GFP_KERNEL_ACCOUNT)?;
    let mut totals = [
        (PinAccount::None, 0),
        (PinAccount::User, 0),
        (PinAccount::Mm, 0),
    ];
    for pages in all.iter() {
        let (account, n) = pages.charge_to_move().unwrap_or((PinAccount::None, 0));
        if let Some(t) = totals.iter_mut().find(|t| t.0 == account) {
            t.1 += n;
        }
        moves.push((account, n), GFP_KERNEL_ACCOUNT)?;
    }
    for (i, &(account, n)) in totals.iter().enumerate() {
        if n == 0 {
            continue;
        }
        if let Err(e) = pages::charge_current(account, n) {
            for &(account, n) in totals[..i].iter().filter(|t| t.1 != 0) {
                pages::refund_current(account, n);
            }
            return Err(e);
        }
    }
    for (pages, &(account, n)) in all.iter().zip(moves.iter()) {
        if pages.move_to_current(n).is_err() {
            // Only a task without an mm fails, and it could not have been charged above.
            kernel::warn_on!(true);
            pages::refund_current(account, n);
        }
    }
    Ok(())
}
