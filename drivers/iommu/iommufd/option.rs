// SPDX-License-Identifier: GPL-2.0

//! `IOMMU_OPTION`: read and change options of the context or of one object.
//!
//! - `IOMMU_OPTION_RLIMIT_MODE` (context, `object_id` 0): whose `RLIMIT_MEMLOCK` pinned pages
//!   are charged to. Changing it needs `CAP_SYS_RESOURCE` and a context with no objects.
//! - `IOMMU_OPTION_HUGE_PAGES` (an IOAS): whether mappings may use huge IOPTEs.
//!
//! The value is written back to `val64` for both `GET` and `SET`, as C does.

use core::mem::offset_of;
use kernel::{
    capability::{capable, Capability},
    prelude::*,
    uaccess::UserSlice,
};

use crate::{
    ctx::AccountMode,
    pagetable::Ioas,
    uapi::{self, option::*},
    ucmd::UCmd,
};

/// Handles `IOMMU_OPTION`.
///
/// # Errors
///
/// `EOPNOTSUPP` for an unknown option or op, or a non-zero reserved field; `EINVAL` for a bad
/// value; `EPERM`, `EBUSY` and `ENOENT` as each option says; `EFAULT`.
pub(crate) fn option(ucmd: &UCmd<'_>, cmd: &mut uapi::IommuOption) -> Result {
    if cmd.__reserved != 0 {
        return Err(EOPNOTSUPP);
    }
    match cmd.option_id {
        RLIMIT_MODE => rlimit_mode(ucmd, cmd)?,
        HUGE_PAGES => huge_pages(ucmd, cmd)?,
        _ => return Err(EOPNOTSUPP),
    }
    let val = ucmd.ubuf_at(offset_of!(kernel::uapi::iommu_option, val64));
    UserSlice::new(val, 8).writer().write(&cmd.val64)
}

/// `IOMMU_OPTION_RLIMIT_MODE`.
fn rlimit_mode(ucmd: &UCmd<'_>, cmd: &mut uapi::IommuOption) -> Result {
    if cmd.object_id != 0 {
        return Err(EOPNOTSUPP);
    }
    match cmd.op {
        OP_GET => {
            cmd.val64 = u64::from(ucmd.ctx.account_mode() == AccountMode::Mm);
            Ok(())
        }
        OP_SET => {
            if !capable(Capability::SYS_RESOURCE) {
                return Err(EPERM);
            }
            ucmd.ctx.set_account_mode(cmd.val64)
        }
        _ => Err(EOPNOTSUPP),
    }
}

/// `IOMMU_OPTION_HUGE_PAGES`.
fn huge_pages(ucmd: &UCmd<'_>, cmd: &mut uapi::IommuOption) -> Result {
    let ioas = ucmd.ctx.objects.get::<Ioas>(cmd.object_id)?;
    match cmd.op {
        OP_GET => {
            cmd.val64 = u64::from(ioas.iopt.large_pages());
            Ok(())
        }
        OP_SET => match cmd.val64 {
            0 => ioas.iopt.set_large_pages(false),
            1 => ioas.iopt.set_large_pages(true),
            _ => Err(EINVAL),
        },
        _ => Err(EOPNOTSUPP),
    }
}
