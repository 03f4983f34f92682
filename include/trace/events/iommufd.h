/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of iommufd (/dev/iommu), in the Rust iommufd.
 *
 * "ctx" is the number N of the context's live-view directory
 * /sys/kernel/debug/iommufd/PID-N, so that a trace and the live view name the same
 * open /dev/iommu; ids are the context's object ids; "ret" is 0 or a negative errno.
 * The format is described in Documentation/iommufd-rs/observability.rst.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM iommufd

#if !defined(_TRACE_IOMMUFD_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_IOMMUFD_H

#include <linux/tracepoint.h>
#include <linux/types.h>

TRACE_EVENT(iommufd_map,
	TP_PROTO(u32 ctx, u32 ioas, u64 iova, u64 length, u32 flags, int ret),
	TP_ARGS(ctx, ioas, iova, length, flags, ret),
	TP_STRUCT__entry(
		__field(u32, ctx)
		__field(u32, ioas)
		__field(u64, iova)
		__field(u64, length)
		__field(u32, flags)
		__field(int, ret)
	),
	TP_fast_assign(
		__entry->ctx = ctx;
		__entry->ioas = ioas;
		__entry->iova = iova;
		__entry->length = length;
		__entry->flags = flags;
		__entry->ret = ret;
	),
	TP_printk("ctx=%u ioas=%u iova=0x%llx length=0x%llx flags=0x%x ret=%d",
		  __entry->ctx, __entry->ioas, __entry->iova, __entry->length,
		  __entry->flags, __entry->ret)
);

TRACE_EVENT(iommufd_unmap,
	TP_PROTO(u32 ctx, u32 ioas, u64 iova, u64 length, u64 unmapped, int ret),
	TP_ARGS(ctx, ioas, iova, length, unmapped, ret),
	TP_STRUCT__entry(
		__field(u32, ctx)
		__field(u32, ioas)
		__field(u64, iova)
		__field(u64, length)
		__field(u64, unmapped)
		__field(int, ret)
	),
	TP_fast_assign(
		__entry->ctx = ctx;
		__entry->ioas = ioas;
		__entry->iova = iova;
		__entry->length = length;
		__entry->unmapped = unmapped;
		__entry->ret = ret;
	),
	TP_printk("ctx=%u ioas=%u iova=0x%llx length=0x%llx unmapped=0x%llx ret=%d",
		  __entry->ctx, __entry->ioas, __entry->iova, __entry->length,
		  __entry->unmapped, __entry->ret)
);

/*
 * Pinning of a span of memory ("pid" is the process charged; "addr" the user address of
 * the span's first page, 0 for a file): "index" and "npages" are the pages asked for,
 * "pages" those newly pinned (or unpinned), "runs" the runs of contiguous pages the span
 * holds pinned afterwards.
 */
DECLARE_EVENT_CLASS(iommufd_pin_class,
	TP_PROTO(int pid, u64 addr, u64 index, u64 npages, u64 pages, u64 runs, int ret),
	TP_ARGS(pid, addr, index, npages, pages, runs, ret),
	TP_STRUCT__entry(
		__field(int, pid)
		__field(u64, addr)
		__field(u64, index)
		__field(u64, npages)
		__field(u64, pages)
		__field(u64, runs)
		__field(int, ret)
	),
	TP_fast_assign(
		__entry->pid = pid;
		__entry->addr = addr;
		__entry->index = index;
		__entry->npages = npages;
		__entry->pages = pages;
		__entry->runs = runs;
		__entry->ret = ret;
	),
	TP_printk("pid=%d addr=0x%llx index=%llu npages=%llu pages=%llu runs=%llu ret=%d",
		  __entry->pid, __entry->addr, __entry->index, __entry->npages,
		  __entry->pages, __entry->runs, __entry->ret)
);

DEFINE_EVENT(iommufd_pin_class, iommufd_pin,
	TP_PROTO(int pid, u64 addr, u64 index, u64 npages, u64 pages, u64 runs, int ret),
	TP_ARGS(pid, addr, index, npages, pages, runs, ret));

DEFINE_EVENT(iommufd_pin_class, iommufd_unpin,
	TP_PROTO(int pid, u64 addr, u64 index, u64 npages, u64 pages, u64 runs, int ret),
	TP_ARGS(pid, addr, index, npages, pages, runs, ret));

/*
 * A device's RID (pasid 0, IOMMU_NO_PASID) or one of its PASIDs attached
 * to, moved between or detached from IO page tables ("old"/"new": object ids, 0 for
 * none).
 */
DECLARE_EVENT_CLASS(iommufd_attach_class,
	TP_PROTO(u32 ctx, u32 dev, u32 pasid, u32 old, u32 new, int ret),
	TP_ARGS(ctx, dev, pasid, old, new, ret),
	TP_STRUCT__entry(
		__field(u32, ctx)
		__field(u32, dev)
		__field(u32, pasid)
		__field(u32, old)
		__field(u32, new)
		__field(int, ret)
	),
	TP_fast_assign(
		__entry->ctx = ctx;
		__entry->dev = dev;
		__entry->pasid = pasid;
		__entry->old = old;
		__entry->new = new;
		__entry->ret = ret;
	),
	TP_printk("ctx=%u dev=%u pasid=%u old=%u new=%u ret=%d",
		  __entry->ctx, __entry->dev, __entry->pasid, __entry->old,
		  __entry->new, __entry->ret)
);

DEFINE_EVENT(iommufd_attach_class, iommufd_attach,
	TP_PROTO(u32 ctx, u32 dev, u32 pasid, u32 old, u32 new, int ret),
	TP_ARGS(ctx, dev, pasid, old, new, ret));

DEFINE_EVENT(iommufd_attach_class, iommufd_replace,
	TP_PROTO(u32 ctx, u32 dev, u32 pasid, u32 old, u32 new, int ret),
	TP_ARGS(ctx, dev, pasid, old, new, ret));

DEFINE_EVENT(iommufd_attach_class, iommufd_detach,
	TP_PROTO(u32 ctx, u32 dev, u32 pasid, u32 old, u32 new, int ret),
	TP_ARGS(ctx, dev, pasid, old, new, ret));

/*
 * IOMMU_DESTROY of an object ("kind" as the live view names it, by its index in the
 * module's list of kinds; "none" for an id that names no object).
 */
#define iommufd_kind_names						\
	{ 0, "ioas" }, { 1, "access" }, { 2, "device" },		\
	{ 3, "hwpt_paging" }, { 4, "hwpt_nested" }, { 5, "fault" },	\
	{ 6, "viommu" }, { 7, "vdevice" }, { 8, "veventq" },		\
	{ 9, "hw_queue" }, { 10, "selftest" }, { 0xffffffff, "none" }

TRACE_EVENT(iommufd_destroy,
	TP_PROTO(u32 ctx, u32 id, u32 kind, int ret),
	TP_ARGS(ctx, id, kind, ret),
	TP_STRUCT__entry(
		__field(u32, ctx)
		__field(u32, id)
		__field(u32, kind)
		__field(int, ret)
	),
	TP_fast_assign(
		__entry->ctx = ctx;
		__entry->id = id;
		__entry->kind = kind;
		__entry->ret = ret;
	),
	TP_printk("ctx=%u id=%u kind=%s ret=%d", __entry->ctx, __entry->id,
		  __print_symbolic(__entry->kind, iommufd_kind_names), __entry->ret)
);

/*
 * An IO page fault group queued on a fault queue for user space ("fault": the queue's
 * object id), and a group answered: by user space through the queue's cookie, or
 * with INVALID by iommufd when the device detached or the queue went (cookie 0).
 */
TRACE_EVENT(iommufd_fault_deliver,
	TP_PROTO(u32 ctx, u32 fault, u32 dev, u32 pasid, u64 addr, u32 grpid, u32 perm,
		 u32 count),
	TP_ARGS(ctx, fault, dev, pasid, addr, grpid, perm, count),
	TP_STRUCT__entry(
		__field(u32, ctx)
		__field(u32, fault)
		__field(u32, dev)
		__field(u32, pasid)
		__field(u64, addr)
		__field(u32, grpid)
		__field(u32, perm)
		__field(u32, count)
	),
	TP_fast_assign(
		__entry->ctx = ctx;
		__entry->fault = fault;
		__entry->dev = dev;
		__entry->pasid = pasid;
		__entry->addr = addr;
		__entry->grpid = grpid;
		__entry->perm = perm;
		__entry->count = count;
	),
	TP_printk("ctx=%u fault=%u dev=%u pasid=%u addr=0x%llx grpid=%u perm=0x%x count=%u",
		  __entry->ctx, __entry->fault, __entry->dev, __entry->pasid,
		  __entry->addr, __entry->grpid, __entry->perm, __entry->count)
);

TRACE_EVENT(iommufd_fault_respond,
	TP_PROTO(u32 ctx, u32 fault, u32 dev, u32 grpid, u32 cookie, u32 code),
	TP_ARGS(ctx, fault, dev, grpid, cookie, code),
	TP_STRUCT__entry(
		__field(u32, ctx)
		__field(u32, fault)
		__field(u32, dev)
		__field(u32, grpid)
		__field(u32, cookie)
		__field(u32, code)
	),
	TP_fast_assign(
		__entry->ctx = ctx;
		__entry->fault = fault;
		__entry->dev = dev;
		__entry->grpid = grpid;
		__entry->cookie = cookie;
		__entry->code = code;
	),
	TP_printk("ctx=%u fault=%u dev=%u grpid=%u cookie=%u code=%u",
		  __entry->ctx, __entry->fault, __entry->dev, __entry->grpid,
		  __entry->cookie, __entry->code)
);

/*
 * A vIOMMU's driver reported an event to a vEVENTQ ("type": the queue's event type,
 * "length": the record's bytes, "seq": its sequence number; "lost": the queue was
 * full and the event is counted as lost).
 */
TRACE_EVENT(iommufd_vevent,
	TP_PROTO(u32 ctx, u32 veventq, u32 type, u32 length, u32 seq, bool lost),
	TP_ARGS(ctx, veventq, type, length, seq, lost),
	TP_STRUCT__entry(
		__field(u32, ctx)
		__field(u32, veventq)
		__field(u32, type)
		__field(u32, length)
		__field(u32, seq)
		__field(bool, lost)
	),
	TP_fast_assign(
		__entry->ctx = ctx;
		__entry->veventq = veventq;
		__entry->type = type;
		__entry->length = length;
		__entry->seq = seq;
		__entry->lost = lost;
	),
	TP_printk("ctx=%u veventq=%u type=%u length=%u seq=%u lost=%d",
		  __entry->ctx, __entry->veventq, __entry->type, __entry->length,
		  __entry->seq, __entry->lost)
);

#endif /* _TRACE_IOMMUFD_H */

/* This part must be outside protection */
#include <trace/define_trace.h>
