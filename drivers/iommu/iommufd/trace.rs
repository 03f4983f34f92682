// SPDX-License-Identifier: GPL-2.0

//! Tracepoints (`include/trace/events/iommufd.h`, defined in `trace_events.c`): the
//! `iommufd` trace system, as a perf or bpftrace user sees it.
//!
//! Each event is a safe function here (`declare_safe_trace!`: every argument is a plain
//! number), which the layers call. A
//! disabled event costs a static branch (a no-op instruction patched in when it is
//! enabled); its arguments are plain numbers that the caller has at hand anyway. The
//! fields are described in Documentation/iommufd-rs/observability.rst: `ctx` is the
//! context's number ([`crate::object::ObjectTable::seq`]), ids are object ids, `ret` is 0 or
//! a negative errno.

use kernel::{ffi::c_int, prelude::*, tracepoint::declare_safe_trace};

declare_safe_trace! {
    fn iommufd_map(ctx: u32, ioas: u32, iova: u64, length: u64, flags: u32, ret: c_int);
    fn iommufd_unmap(ctx: u32, ioas: u32, iova: u64, length: u64, unmapped: u64, ret: c_int);
    fn iommufd_pin(pid: c_int, addr: u64, index: u64, npages: u64, pages: u64, runs: u64,
                   ret: c_int);
    fn iommufd_unpin(pid: c_int, addr: u64, index: u64, npages: u64, pages: u64, runs: u64,
                     ret: c_int);
    fn iommufd_attach(ctx: u32, dev: u32, pasid: u32, old: u32, new: u32, ret: c_int);
    fn iommufd_replace(ctx: u32, dev: u32, pasid: u32, old: u32, new: u32, ret: c_int);
    fn iommufd_detach(ctx: u32, dev: u32, pasid: u32, old: u32, new: u32, ret: c_int);
    fn iommufd_destroy(ctx: u32, id: u32, kind: u32, ret: c_int);
    // The event's fields, as C declares them.
    #[allow(clippy::too_many_arguments)]
    fn iommufd_fault_deliver(ctx: u32, fault: u32, dev: u32, pasid: u32, addr: u64,
                             grpid: u32, perm: u32, count: u32);
    fn iommufd_fault_respond(ctx: u32, fault: u32, dev: u32, grpid: u32, cookie: u32,
                             code: u32);
    fn iommufd_vevent(ctx: u32, veventq: u32, kind: u32, length: u32, seq: u32, lost: bool);
}

/// `ret` of an event: 0, or the negative errno.
fn ret_of<T>(res: &Result<T>) -> c_int {
    match res {
        Ok(_) => 0,
        Err(e) => e.to_errno(),
    }
}

/// A byte count as the events record it.
fn u64_of(n: usize) -> u64 {
    n as u64
}

/// `IOMMU_IOAS_MAP`, `IOMMU_IOAS_MAP_FILE` or `IOMMU_IOAS_COPY` into the IOAS `ioas` of
/// context `ctx` ended with `res`; `iova` is where the mapping went (or was asked for).
#[inline]
pub(crate) fn map<T>(ctx: u32, ioas: u32, iova: u64, length: u64, flags: u32, res: &Result<T>) {
    iommufd_map(ctx, ioas, iova, length, flags, ret_of(res))
}

/// `IOMMU_IOAS_UNMAP` (or a VFIO unmap) of `length` bytes at `iova` of the IOAS `ioas`
/// ended with `res`, having unmapped `unmapped` bytes.
#[inline]
pub(crate) fn unmap<T>(
    ctx: u32,
    ioas: u32,
    iova: u64,
    length: u64,
    unmapped: u64,
    res: &Result<T>,
) {
    iommufd_unmap(ctx, ioas, iova, length, unmapped, ret_of(res))
}

/// What one pin or unpin of a span of memory did: the process charged (`pid`), the user
/// address of the span's first page (0 for a file), the pages asked for
/// (`index..index + npages`), the pages newly pinned or unpinned, and the runs the span
/// holds afterwards.
pub(crate) struct PinEvent {
    /// The process the pins are charged to.
    pub(crate) pid: i32,
    /// The user address of the span's first page, 0 for file memory.
    pub(crate) addr: usize,
    /// The first page asked for (an index into the span).
    pub(crate) index: usize,
    /// The pages asked for.
    pub(crate) npages: usize,
    /// The pages newly pinned, or unpinned.
    pub(crate) pages: usize,
    /// The runs of contiguous pinned pages the span holds afterwards.
    pub(crate) runs: usize,
}

/// Pages of a span were pinned (`res` is how adding the users ended).
#[inline]
pub(crate) fn pin(e: &PinEvent, res: &Result) {
    iommufd_pin(
        e.pid,
        u64_of(e.addr),
        u64_of(e.index),
        u64_of(e.npages),
        u64_of(e.pages),
        u64_of(e.runs),
        ret_of(res),
    )
}

/// Pages of a span lost their last user and were unpinned.
#[inline]
pub(crate) fn unpin(e: &PinEvent) {
    iommufd_unpin(
        e.pid,
        u64_of(e.addr),
        u64_of(e.index),
        u64_of(e.npages),
        u64_of(e.pages),
        u64_of(e.runs),
        0,
    )
}

/// How a device's attachment changed.
#[derive(Clone, Copy)]
pub(crate) enum AttachChange {
    /// Attached to an IO page table.
    Attach,
    /// Moved to another.
    Replace,
    /// Detached.
    Detach,
}

/// The RID (`pasid` 0) or a PASID of the device `dev` of context `ctx` was attached to,
/// moved from `old` to, or detached from IO page tables (`old`, `new`: HWPT ids, 0 for
/// none); `res` is how it ended.
#[inline]
pub(crate) fn attach(
    change: AttachChange,
    ctx: u32,
    dev: u32,
    pasid: u32,
    old: u32,
    new: u32,
    res: &Result,
) {
    let ret = ret_of(res);
    match change {
        AttachChange::Attach => iommufd_attach(ctx, dev, pasid, old, new, ret),
        AttachChange::Replace => iommufd_replace(ctx, dev, pasid, old, new, ret),
        AttachChange::Detach => iommufd_detach(ctx, dev, pasid, old, new, ret),
    }
}

/// `IOMMU_DESTROY` of the object `id` of kind `kind` (its index in the live view's
/// [`crate::kinds::ObjectKind::NAMES`], as the event prints it; `None` for an id that
/// names no object) ended with `res`.
#[inline]
pub(crate) fn destroy(ctx: u32, id: u32, kind: Option<usize>, res: &Result) {
    let kind = kind.map_or(u32::MAX, |k| k as u32);
    iommufd_destroy(ctx, id, kind, ret_of(res))
}

/// An IO page fault group from device `dev` was queued on the fault queue `fault`: its
/// first fault's PASID (0 without), address, group id and permissions, and the faults in
/// the group.
pub(crate) struct FaultEvent {
    /// The context's number.
    pub(crate) ctx: u32,
    /// The fault queue's id.
    pub(crate) fault: u32,
    /// The device's id.
    pub(crate) dev: u32,
    /// The PASID of the first fault, 0 without.
    pub(crate) pasid: u32,
    /// The faulting address of the first fault.
    pub(crate) addr: u64,
    /// The page request group id.
    pub(crate) grpid: u32,
    /// The permissions asked for (`IOMMU_PGFAULT_PERM_*`).
    pub(crate) perm: u32,
    /// The faults in the group.
    pub(crate) count: u32,
}

/// A fault group was queued for user space.
#[inline]
pub(crate) fn fault_deliver(e: &FaultEvent) {
    iommufd_fault_deliver(
        e.ctx, e.fault, e.dev, e.pasid, e.addr, e.grpid, e.perm, e.count,
    )
}

/// The group `grpid` from device `dev`, queued on `fault`, was answered with `code`
/// (`IOMMUFD_PAGE_RESP_*`): by user space naming `cookie`, or by iommufd (cookie 0).
#[inline]
pub(crate) fn fault_respond(ctx: u32, fault: u32, dev: u32, grpid: u32, cookie: u32, code: u32) {
    iommufd_fault_respond(ctx, fault, dev, grpid, cookie, code)
}

/// A vIOMMU's driver reported an event of type `kind` and `length` bytes to the vEVENTQ
/// `veventq`, queued with sequence number `seq`, or counted as lost (`lost`).
#[inline]
pub(crate) fn vevent(ctx: u32, veventq: u32, kind: u32, length: u32, seq: u32, lost: bool) {
    iommufd_vevent(ctx, veventq, kind, length, seq, lost)
}
