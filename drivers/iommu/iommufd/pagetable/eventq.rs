// SPDX-License-Identifier: GPL-2.0

//! The event queues: a HWPT's IO page faults ([`fault`]) and a vIOMMU's events
//! ([`veventq`]), and what the two share, the file user space reads them through.
//!
//! A fault queue ([`fault`]) and a vEVENTQ ([`veventq`]) are objects with a
//! file. The file is a user of its object, so destroying the object fails with `EBUSY`
//! while the file is open, and holds the context, as C's `iommufd_eventq_init` does.

pub(crate) mod fault;
pub(crate) mod veventq;

use kernel::{
    fs::{
        anon_inode::{AnonFileOps, FileIo},
        file::FileDescriptorReservation,
        File,
    },
    prelude::*,
    sync::{aref::ARef, poll::PollTable, Arc},
    uaccess::{UserSliceReader, UserSliceWriter},
};

use crate::{
    ctx::CtxRef,
    object::{ObjectType, Reservation},
    uapi::IoctlStruct,
    ucmd::UCmd,
};

/// What an event queue's file holds: a user of the queue, and the context.
pub(crate) struct QueueFile<Q: ObjectType + FileIo> {
    queue: Arc<Q>,
    _ctx: CtxRef,
}

impl<Q: ObjectType + FileIo> Drop for QueueFile<Q> {
    fn drop(&mut self) {
        self.queue.header().put_user();
    }
}

impl<Q: ObjectType + FileIo> FileIo for QueueFile<Q> {
    fn read(&self, w: &mut UserSliceWriter, pos: i64) -> Result<usize> {
        self.queue.read(w, pos)
    }

    fn write(&self, r: &mut UserSliceReader, pos: i64) -> Result<usize> {
        self.queue.write(r, pos)
    }

    fn poll(&self, file: &File, table: PollTable<'_>) -> u32 {
        self.queue.poll(file, table)
    }
}

/// Publishes the new queue `queue` as the id `reservation` holds, with a file under `fops`
/// named `name`: `set_ids(cmd, id, fd)` writes the queue's id and the file's descriptor into
/// the command, which is answered before the queue is published and the file installed.
///
/// # Errors
///
/// `EMFILE`, `ENOMEM`, `EFAULT`; nothing is published or installed then.
pub(crate) fn publish<Q: ObjectType + FileIo + 'static, C: IoctlStruct>(
    ucmd: &UCmd<'_>,
    reservation: Reservation<'_>,
    queue: Arc<Q>,
    fops: &'static AnonFileOps<Arc<QueueFile<Q>>>,
    name: &CStr,
    cmd: &mut C,
    set_ids: impl FnOnce(&mut C, u32, u32),
) -> Result {
    let (fd, file) = open(ucmd, fops, name, &queue)?;
    set_ids(cmd, reservation.id(), fd.reserved_fd());
    let prepared = reservation.prepare(queue)?;
    ucmd.respond(cmd)?;
    prepared.publish();
    fd.fd_install(file);
    Ok(())
}

/// A file for `queue` under `fops`, named `name`, with a descriptor reserved for it.
///
/// # Errors
///
/// `EMFILE`, `ENOMEM`.
fn open<Q: ObjectType + FileIo + 'static>(
    ucmd: &UCmd<'_>,
    fops: &'static AnonFileOps<Arc<QueueFile<Q>>>,
    name: &CStr,
    queue: &Arc<Q>,
) -> Result<(FileDescriptorReservation, ARef<File>)> {
    let fd = FileDescriptorReservation::get_unused_fd_flags(kernel::fs::file::flags::O_CLOEXEC)?;
    // The file is a user of the queue until it is released.
    queue.header().add_user();
    let holder = Arc::new(
        QueueFile {
            queue: queue.clone(),
            _ctx: CtxRef::new(ucmd),
        },
        GFP_KERNEL_ACCOUNT,
    );
    let holder = match holder {
        Ok(h) => h,
        Err(e) => {
            queue.header().put_user();
            return Err(e.into());
        }
    };
    let file = fops.create(name, holder, kernel::fs::file::flags::O_RDWR)?;
    Ok((fd, file))
}

/// `EPOLLIN`, `EPOLLOUT` and `EPOLLRDNORM` (`include/uapi/linux/eventpoll.h`).
pub(crate) const EPOLLIN: u32 = 0x1;
/// Writable.
pub(crate) const EPOLLOUT: u32 = 0x4;
/// Normal data readable.
pub(crate) const EPOLLRDNORM: u32 = 0x40;
