// SPDX-License-Identifier: GPL-2.0

//! The IOAS object: an IO address space, and the ioctls that act on it.
//!
//! # Lifetime
//!
//! Created by `IOMMU_IOAS_ALLOC`, destroyed by `IOMMU_DESTROY` (when nothing else uses it) or
//! when its file is closed. It owns its [`IoPageTable`].

use kernel::{
    prelude::*,
    sync::Arc,
    uaccess::{UserPtr, UserSlice},
};

use super::iopt::{IoPageTable, IOVA_SPACE};
use crate::{
    object::{ObjectHeader, ObjectKind, ObjectType},
    uapi::{self, IovaRange},
    ucmd::UCmd,
};

/// An IO address space.
#[pin_data]
pub(crate) struct Ioas {
    header: ObjectHeader,
    /// Its IO page table.
    #[pin]
    pub(crate) iopt: IoPageTable,
}

impl ObjectType for Ioas {
    fn header(&self) -> &ObjectHeader {
        &self.header
    }

    fn from_kind(kind: &ObjectKind) -> Option<&Arc<Self>> {
        match kind {
            ObjectKind::Ioas(ioas) => Some(ioas),
        }
    }

    fn into_kind(this: Arc<Self>) -> ObjectKind {
        ObjectKind::Ioas(this)
    }
}

impl Ioas {
    /// A new, empty IOAS.
    pub(crate) fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                header: ObjectHeader::new(),
                iopt <- IoPageTable::new(),
            }),
            GFP_KERNEL_ACCOUNT,
        )
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
