// SPDX-License-Identifier: GPL-2.0

//! Fault queues (`IOMMU_FAULT_QUEUE_ALLOC`): the IO page faults of devices attached to
//! HWPTs that user space resolves.
//!
//! A HWPT allocated with `IOMMU_HWPT_FAULT_ID_VALID` names a fault queue. The iommu core hands each
//! complete page request group of a device attached to it to the handler of its attachments
//! ([`HandleData`]), which queues it on the fault queue. User space reads the faults from the
//! queue's file (`struct iommu_hwpt_pgfault` records, each carrying a cookie) and writes responses
//! (`struct iommu_hwpt_page_response`) naming the cookies; each response completes its group
//! towards the device.
//!
//! # Lifetime
//!
//! The queue's file is a user of the object and holds the context, as in C: the object cannot be
//! destroyed while the file is open ([`eventq::QueueFile`]). Each HWPT delivering to the queue
//! holds the queue's memory ([`Arc`]) and a user of it. A group that is never answered is answered
//! `IOMMU_PAGE_RESP_INVALID` when the attachment it came through goes ([`Fault::auto_respond`]) or
//! with the queue, so the device is never left waiting.
//!
//! # Locking
//!
//! `Fault::state` is taken under `IGroup::state` (auto response at detach) and alone
//! elsewhere; the iommu core calls the handler without iommufd locks.

use kernel::{
    fs::{
        anon_inode::{AnonFileOps, FileIo},
        File,
    },
    iommu::iopf::{IopfGroup, IopfHandler, Response},
    new_mutex, new_poll_condvar,
    prelude::*,
    sync::{
        poll::{PollCondVar, PollTable},
        Arc, Mutex,
    },
    uaccess::{UserSliceReader, UserSliceWriter},
};

use crate::{
    object::ObjectHeader,
    pagetable::eventq::{self, QueueFile, EPOLLIN, EPOLLOUT, EPOLLRDNORM},
    system::group::{AttachHandle, HandleData},
    trace::{self, FaultEvent},
    uapi,
    ucmd::UCmd,
};

/// `IOMMUFD_PAGE_RESP_SUCCESS` and `IOMMUFD_PAGE_RESP_INVALID`, the responses user space
/// may give, which are the iommu core's `IOMMU_PAGE_RESP_*` values.
const RESP_SUCCESS: u32 = kernel::uapi::iommufd_page_response_code_IOMMUFD_PAGE_RESP_SUCCESS;
const RESP_INVALID: u32 = kernel::uapi::iommufd_page_response_code_IOMMUFD_PAGE_RESP_INVALID;

/// A queued group, with the id of the device it came from.
struct Queued {
    group: IopfGroup,
    dev_id: u32,
}

/// What [`Fault::state`] protects.
struct FaultState {
    /// Groups not read yet, oldest first.
    deliver: KVec<Queued>,
    /// Groups read and awaiting a response, with their cookies.
    response: KVec<(u32, Queued)>,
}

/// A fault queue.
#[pin_data]
pub(crate) struct Fault {
    header: ObjectHeader,
    /// The number of its context and its id there, for the tracepoints.
    ctx: u32,
    id: u32,
    #[pin]
    state: Mutex<FaultState>,
    /// Readers waiting for faults (poll).
    #[pin]
    wait: PollCondVar,
}

crate::object::object_type!(Fault, Fault);

impl Fault {
    /// Page request groups not read yet, and read but not answered (the live view).
    pub(crate) fn depth(&self) -> (usize, usize) {
        let state = self.state.lock();
        (state.deliver.len(), state.response.len())
    }

    /// Queues `group`, from the device `dev_id`, for user space.
    ///
    /// # Errors
    ///
    /// `ENOMEM`; the group is handed back to the core then (which answers it).
    fn queue(&self, group: IopfGroup, dev_id: u32) -> core::result::Result<(), IopfGroup> {
        let mut state = self.state.lock();
        if state.deliver.reserve(1, GFP_KERNEL).is_err() {
            return Err(group);
        }
        let first = first_request(&group);
        trace::fault_deliver(&FaultEvent {
            ctx: self.ctx,
            fault: self.id,
            dev: dev_id,
            pasid: first.pasid,
            addr: first.addr,
            grpid: first.grpid,
            perm: first.perm,
            count: group.count() as u32,
        });
        // Room was reserved above.
        let _ = state.deliver.push_within_capacity(Queued { group, dev_id });
        drop(state);
        self.wait.notify_all();
        Ok(())
    }

    /// Answers `IOMMU_PAGE_RESP_INVALID` to every group that came through `handle`, which
    /// is going away (its device detached or moved).
    pub(crate) fn auto_respond(&self, handle: &AttachHandle) {
        let mut state = self.state.lock();
        // Dropping a group answers it.
        let gone = |q: &Queued, cookie: u32| {
            let going = q.group.came_through(handle);
            if going {
                let grpid = first_request(&q.group).grpid;
                trace::fault_respond(self.ctx, self.id, q.dev_id, grpid, cookie, RESP_INVALID);
            }
            going
        };
        state.deliver.retain(|q| !gone(q, 0));
        state.response.retain(|(cookie, q)| !gone(q, *cookie));
    }
}

/// What the tracepoints say of a group: its first page request's.
#[derive(Default)]
struct FirstRequest {
    pasid: u32,
    addr: u64,
    grpid: u32,
    perm: u32,
}

/// The first page request of `group` (every request of a group has its group id).
fn first_request(group: &IopfGroup) -> FirstRequest {
    let mut first = None;
    let _ = group.for_each_request(|prm| {
        first.get_or_insert(FirstRequest {
            pasid: prm.pasid(),
            addr: prm.addr(),
            grpid: prm.grpid(),
            perm: prm.perm(),
        });
        Ok(())
    });
    first.unwrap_or_default()
}

impl FileIo for Fault {
    /// Reads whole groups into `w`, as `read(2)` on the queue's file.
    fn read(&self, w: &mut UserSliceWriter, pos: i64) -> Result<usize> {
        const SIZE: usize = core::mem::size_of::<kernel::uapi::iommu_hwpt_pgfault>();
        let count = w.len();
        if pos != 0 || count % SIZE != 0 {
            return Err(ESPIPE);
        }
        let mut state = self.state.lock();
        let state = &mut *state;
        let mut done = 0;
        while let Some(first) = state.deliver.first() {
            let need = first.group.count() * SIZE;
            if need > count - done {
                if done == 0 {
                    return Err(EINVAL);
                }
                break;
            }
            // The lowest free cookie, from 1.
            let mut cookie = 1u32;
            while state.response.iter().any(|(c, _)| *c == cookie) {
                cookie += 1;
            }
            if let Err(e) = state.response.reserve(1, GFP_KERNEL) {
                return if done == 0 { Err(e.into()) } else { Ok(done) };
            }
            let dev_id = first.dev_id;
            let r = first.group.for_each_request(|prm| {
                let msg = kernel::uapi::iommu_hwpt_pgfault {
                    flags: prm.flags(),
                    dev_id,
                    pasid: prm.pasid(),
                    grpid: prm.grpid(),
                    perm: prm.perm(),
                    __reserved: 0,
                    addr: prm.addr(),
                    length: 0,
                    cookie,
                };
                w.write(&crate::uapi::PgFault(msg))
            });
            if let Err(e) = r {
                return if done == 0 { Err(e) } else { Ok(done) };
            }
            done += need;
            let q = state.deliver.remove(0).map_err(|_| EINVAL)?;
            // Room was reserved above.
            let _ = state.response.push_within_capacity((cookie, q));
        }
        Ok(done)
    }

    /// Takes responses from `r`, as `write(2)` on the queue's file.
    fn write(&self, r: &mut UserSliceReader, pos: i64) -> Result<usize> {
        const SIZE: usize = core::mem::size_of::<kernel::uapi::iommu_hwpt_page_response>();
        if pos != 0 || r.len() % SIZE != 0 {
            return Err(ESPIPE);
        }
        let mut state = self.state.lock();
        let mut done = 0;
        let mut result = Ok(());
        while !r.is_empty() {
            let resp = match r.read::<crate::uapi::PageResponse>() {
                Ok(resp) => resp.0,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            let code = match resp.code {
                RESP_SUCCESS | RESP_INVALID => Response::from_code(resp.code),
                _ => None,
            };
            let Some(code) = code else {
                result = Err(EINVAL);
                break;
            };
            let Some(i) = state.response.iter().position(|(c, _)| *c == resp.cookie) else {
                result = Err(EINVAL);
                break;
            };
            let (_, q) = state.response.remove(i).map_err(|_| EINVAL)?;
            let grpid = first_request(&q.group).grpid;
            trace::fault_respond(self.ctx, self.id, q.dev_id, grpid, resp.cookie, resp.code);
            q.group.respond(code);
            done += SIZE;
        }
        match result {
            Err(e) if done == 0 => Err(e),
            _ => Ok(done),
        }
    }

    fn poll(&self, file: &File, table: PollTable<'_>) -> u32 {
        table.register_wait(file, &self.wait);
        let mut mask = EPOLLOUT;
        if !self.state.lock().deliver.is_empty() {
            mask |= EPOLLIN | EPOLLRDNORM;
        }
        mask
    }
}

/// The queue files' operations.
static FAULT_FOPS: AnonFileOps<Arc<QueueFile<Fault>>> = AnonFileOps::with_io(&crate::THIS_MODULE);

/// The IO page fault handler of iommufd's domains with a fault queue: queues each group
/// for user space (C's `iommufd_fault_iopf_handler()`), reported for the device that
/// attached first.
impl IopfHandler for HandleData {
    fn handle(
        handle: &AttachHandle,
        group: IopfGroup,
    ) -> core::result::Result<(), (Error, IopfGroup)> {
        let Some(fault) = handle.data().fault() else {
            return Err((ENODEV, group));
        };
        fault
            .queue(group, handle.data().dev_id())
            .map_err(|group| (ENOMEM, group))
    }
}

/// `IOMMU_FAULT_QUEUE_ALLOC`: a new fault queue; its id and the descriptor of its file go
/// to the user.
///
/// # Errors
///
/// `EOPNOTSUPP` for non-zero flags; `ENOMEM`, `EMFILE`, `EFAULT`.
pub(crate) fn alloc(ucmd: &UCmd<'_>, cmd: &mut uapi::FaultAlloc) -> Result {
    if cmd.flags != 0 {
        return Err(EOPNOTSUPP);
    }
    let reservation = ucmd.ctx.objects.reserve()?;
    let id = reservation.id();
    let fault = Arc::pin_init(
        pin_init!(Fault {
            header: ObjectHeader::new(),
            ctx: ucmd.ctx.objects.seq(),
            id,
            state <- new_mutex!(FaultState {
                deliver: KVec::new(),
                response: KVec::new(),
            }),
            wait <- new_poll_condvar!("iommufd_fault"),
        }),
        GFP_KERNEL_ACCOUNT,
    )?;
    eventq::publish(
        ucmd,
        reservation,
        fault,
        &FAULT_FOPS,
        c"[iommufd-pgfault]",
        cmd,
        |cmd, id, fd| {
            cmd.out_fault_id = id;
            cmd.out_fault_fd = fd;
        },
    )
}
