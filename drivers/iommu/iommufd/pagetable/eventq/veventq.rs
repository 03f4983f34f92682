// SPDX-License-Identifier: GPL-2.0

//! vEVENTQs (`IOMMU_VEVENTQ_ALLOC`): the events a vIOMMU's driver reports for the VM (a
//! device's translation fault seen by the stage-1 table, ...), queued for user space.
//!
//! A vIOMMU has at most one queue per event type. The driver reports an event with
//! [`Viommu::report_event`]; user space reads `struct iommufd_vevent_header` followed by
//! the event's data. Each event gets the next sequence number (31 bit, wrapping). A
//! queue holds at most `veventq_depth` events; an event that does not fit (or cannot be
//! allocated) is lost, and a single *lost events* header (flag
//! `IOMMU_VEVENTQ_FLAG_LOST_EVENTS`, no data) stands for all lost ones at the queue's
//! tail, with the sequence number of the last, so that the gap shows.
//!
//! # Lifetime
//!
//! A queue holds its vIOMMU as a user; the vIOMMU lists its [`Events`] until the queue
//! is dropped. Its file is a user of it ([`super::QueueFile`]).
//!
//! # Locking
//!
//! `Viommu::veventqs` (a mutex: lookup by type, registration) → `Events::state` (a
//! spinlock: reporting allocates nothing under it).

use core::sync::atomic::{AtomicU32, Ordering};
use kernel::{
    alloc::{flags::GFP_NOWAIT, Flags},
    fs::{
        anon_inode::{AnonFileOps, FileIo},
        File,
    },
    list::{impl_list_arc_safe, impl_list_item, List, ListArc, ListLinks},
    new_poll_condvar, new_spinlock,
    prelude::*,
    sync::{
        poll::{PollCondVar, PollTable},
        Arc, SpinLock,
    },
    uaccess::{UserSliceReader, UserSliceWriter},
};

use crate::{
    object::{ObjRef, ObjectHeader},
    pagetable::{
        eventq::{self, QueueFile, EPOLLIN, EPOLLRDNORM},
        viommu::Viommu,
    },
    trace, uapi,
    ucmd::UCmd,
};

/// An arbitrary upper bound on a queue's depth that fits all existing hardware, as C's.
const MAX_DEPTH: u32 = 1 << 19;

/// The header's flag of the lost events header.
const FLAG_LOST_EVENTS: u32 = kernel::uapi::iommu_veventq_flag_IOMMU_VEVENTQ_FLAG_LOST_EVENTS;

/// One queued event, or the queue's lost events header (no data).
#[pin_data]
struct VEvent {
    /// The sequence number, set when queued.
    sequence: AtomicU32,
    /// Whether this is the lost events header.
    lost: bool,
    /// The event's data.
    data: KVec<u8>,
    #[pin]
    links: ListLinks,
}

impl_list_arc_safe! {
    impl ListArcSafe<0> for VEvent { untracked; }
}
impl_list_item! {
    impl ListItem<0> for VEvent { using ListLinks { self.links }; }
}

impl VEvent {
    fn new(lost: bool, data: KVec<u8>, flags: Flags) -> Result<ListArc<Self>> {
        ListArc::pin_init(
            try_pin_init!(Self {
                sequence: AtomicU32::new(0),
                lost,
                data,
                links <- ListLinks::new(),
            }),
            flags,
        )
    }
}

/// What [`VEventq::state`] protects.
struct QueueState {
    /// Events not read yet, oldest first; the lost events header, if queued, is last.
    deliver: List<VEvent>,
    /// The lost events header while it is not queued (when it is, it is the last).
    lost: Option<ListArc<VEvent>>,
    /// Normal events queued.
    num_events: u32,
    /// The next sequence number.
    sequence: u32,
}

impl QueueState {
    /// Queues `event` (C's `iommufd_vevent_handler`): a queued lost events header leaves
    /// the tail first (it comes back as `event` if that is it, with a new sequence).
    fn push(&mut self, event: ListArc<VEvent>) {
        if self.lost.is_none() {
            // Queued, so last.
            self.lost = self.deliver.pop_back();
        }
        event_seq(&event, self);
        self.deliver.push_back(event);
    }

    /// Queues the lost events header (moving it to the tail with a new sequence if it is
    /// queued).
    fn push_lost(&mut self) {
        if self.lost.is_none() {
            self.lost = self.deliver.pop_back();
        }
        if let Some(lost) = self.lost.take() {
            event_seq(&lost, self);
            self.deliver.push_back(lost);
        }
    }
}

/// Gives `event` the next sequence number of `state`.
fn event_seq(event: &VEvent, state: &mut QueueState) {
    event.sequence.store(state.sequence, Ordering::Relaxed);
    state.sequence = (state.sequence + 1) & i32::MAX as u32;
}

/// The events of a vEVENTQ, which its vIOMMU lists so the driver's reports find them.
#[pin_data]
pub(crate) struct Events {
    /// The event type (`IOMMU_VEVENTQ_TYPE_*`).
    pub(crate) ty: u32,
    /// The most events it holds.
    depth: u32,
    /// The number of its context and the vEVENTQ's id there, for the tracepoints.
    ctx: u32,
    id: u32,
    #[pin]
    state: SpinLock<QueueState>,
    /// Readers waiting for events (poll).
    #[pin]
    wait: PollCondVar,
}

/// A vEVENTQ.
#[pin_data(PinnedDrop)]
pub(crate) struct VEventq {
    header: ObjectHeader,
    /// The vIOMMU whose events it queues.
    viommu: ObjRef<Viommu>,
    /// The queue, listed in the vIOMMU until the vEVENTQ is dropped.
    events: Arc<Events>,
}

crate::object::object_type!(VEventq, VEventq);

/// What a vEVENTQ holds, for the live view.
pub(crate) struct VEventqView {
    /// The event type (`IOMMU_VEVENTQ_TYPE_*`).
    pub(crate) ty: u32,
    /// The most events it holds.
    pub(crate) depth: u32,
    /// Events queued, not read yet.
    pub(crate) queued: u32,
    /// Whether events were lost since the last read (the lost events header is queued).
    pub(crate) lost: bool,
}

impl VEventq {
    /// The vIOMMU whose events it queues.
    pub(crate) fn viommu(&self) -> &Viommu {
        &self.viommu
    }

    /// Its type, depth and what it holds now.
    pub(crate) fn view(&self) -> VEventqView {
        let state = self.events.state.lock();
        VEventqView {
            ty: self.events.ty,
            depth: self.events.depth,
            queued: state.num_events,
            lost: state.lost.is_none(),
        }
    }
}

impl Events {
    /// Queues an event with `data` (C's `iommufd_viommu_report_event` past the lookup).
    ///
    /// # Errors
    ///
    /// `ENOMEM` if the event could not be allocated: it counts as lost.
    pub(crate) fn report(&self, data: &[u8]) -> Result {
        let event = (|| {
            let mut d = KVec::with_capacity(data.len(), GFP_NOWAIT)?;
            d.extend_from_slice(data, GFP_NOWAIT)?;
            VEvent::new(false, d, GFP_NOWAIT)
        })();
        let mut state = self.state.lock();
        // The number the event (or the lost events header) is queued with.
        let seq = state.sequence;
        let queued = event.is_ok() && state.num_events < self.depth;
        trace::vevent(self.ctx, self.id, self.ty, data.len() as u32, seq, !queued);
        let r = match event {
            Ok(event) if state.num_events < self.depth => {
                state.num_events += 1;
                state.push(event);
                Ok(())
            }
            // Full: the event is lost (and freed after the lock is dropped).
            Ok(_) => {
                state.push_lost();
                Ok(())
            }
            Err(e) => {
                state.push_lost();
                Err(e)
            }
        };
        drop(state);
        self.wait.notify_all();
        r
    }
}

impl FileIo for VEventq {
    /// Reads whole events into `w`, as `read(2)` on the queue's file: each is a header,
    /// then the event's data (none for the lost events header).
    fn read(&self, w: &mut UserSliceWriter, pos: i64) -> Result<usize> {
        let this = &*self.events;
        const HDR: usize = core::mem::size_of::<kernel::uapi::iommufd_vevent_header>();
        let count = w.len();
        if pos != 0 {
            return Err(ESPIPE);
        }
        if count < HDR {
            return Err(EINVAL);
        }
        let mut done = 0;
        loop {
            let mut state = this.state.lock();
            let Some(event) = state.deliver.pop_front() else {
                break;
            };
            if HDR + event.data.len() > count - done {
                let lost = event.lost;
                state.deliver.push_front(event);
                // A normal event that does not fit alone is an error.
                if done == 0 && !lost {
                    return Err(EINVAL);
                }
                break;
            }
            if !event.lost {
                state.num_events -= 1;
            }
            drop(state);
            // Copied to user memory without the spinlock (the copy may fault).
            let hdr = kernel::uapi::iommufd_vevent_header {
                flags: if event.lost { FLAG_LOST_EVENTS } else { 0 },
                sequence: event.sequence.load(Ordering::Relaxed),
            };
            let r = w
                .write(&crate::uapi::VEventHeader(hdr))
                .and_then(|()| w.write_slice(&event.data));
            let mut state = this.state.lock();
            if let Err(e) = r {
                // Back to the head of the queue, as if not read; the lost events header
                // only if nothing came since (it must stay last).
                if !event.lost {
                    state.num_events += 1;
                    state.deliver.push_front(event);
                } else if state.deliver.is_empty() {
                    state.deliver.push_back(event);
                } else {
                    state.lost = Some(event);
                }
                return if done == 0 { Err(e) } else { Ok(done) };
            }
            done += HDR + event.data.len();
            if event.lost {
                state.lost = Some(event);
            }
        }
        Ok(done)
    }

    fn write(&self, _r: &mut UserSliceReader, _pos: i64) -> Result<usize> {
        Err(EINVAL)
    }

    fn poll(&self, file: &File, table: PollTable<'_>) -> u32 {
        table.register_wait(file, &self.events.wait);
        if self.events.state.lock().deliver.is_empty() {
            0
        } else {
            EPOLLIN | EPOLLRDNORM
        }
    }
}

/// The queue files' operations.
static VEVENTQ_FOPS: AnonFileOps<Arc<QueueFile<VEventq>>> =
    AnonFileOps::with_io(&crate::THIS_MODULE);

#[pinned_drop]
impl PinnedDrop for VEventq {
    fn drop(self: Pin<&mut Self>) {
        self.viommu.forget_veventq(&self.events);
    }
}

/// `IOMMU_VEVENTQ_ALLOC`: a queue for the events of `type` of the vIOMMU `viommu_id`,
/// `veventq_depth` deep; its id and the descriptor of its file go to the user.
///
/// # Errors
///
/// `EOPNOTSUPP` for non-zero flags or reserved field, or the default type; `EINVAL` for
/// a depth of 0 or over 2^19; `ENOENT` for an unknown vIOMMU; `EEXIST` if the vIOMMU has
/// a queue of that type; `ENOMEM`, `EMFILE`, `EFAULT`.
pub(crate) fn alloc(ucmd: &UCmd<'_>, cmd: &mut uapi::VeventqAlloc) -> Result {
    if cmd.flags != 0
        || cmd.__reserved != 0
        || cmd.type_ == kernel::uapi::iommu_veventq_type_IOMMU_VEVENTQ_TYPE_DEFAULT
    {
        return Err(EOPNOTSUPP);
    }
    if cmd.veventq_depth == 0 || cmd.veventq_depth > MAX_DEPTH {
        return Err(EINVAL);
    }
    let viommu = ucmd.ctx.objects.get::<Viommu>(cmd.viommu_id)?;
    let lost = VEvent::new(true, KVec::new(), GFP_KERNEL_ACCOUNT)?;
    let reservation = ucmd.ctx.objects.reserve()?;
    let id = reservation.id();
    let (ty, depth, held) = (cmd.type_, cmd.veventq_depth, viommu.clone());
    let events = Arc::pin_init(
        pin_init!(Events {
            ty,
            depth,
            ctx: ucmd.ctx.objects.seq(),
            id,
            state <- new_spinlock!(QueueState {
                deliver: List::new(),
                lost: Some(lost),
                num_events: 0,
                sequence: 0,
            }),
            wait <- new_poll_condvar!("iommufd_veventq"),
        }),
        GFP_KERNEL_ACCOUNT,
    )?;
    let queue = Arc::pin_init(
        pin_init!(VEventq {
            header: ObjectHeader::new(),
            viommu: held,
            events,
        }),
        GFP_KERNEL_ACCOUNT,
    )?;
    // Listed until the queue is dropped; `EEXIST` for a second queue of a type.
    viommu.add_veventq(&queue.events)?;
    eventq::publish(
        ucmd,
        reservation,
        queue,
        &VEVENTQ_FOPS,
        c"[iommufd-viommu-event]",
        cmd,
        |cmd, id, fd| {
            cmd.out_veventq_id = id;
            cmd.out_veventq_fd = fd;
        },
    )
}
