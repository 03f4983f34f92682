// SPDX-License-Identifier: GPL-2.0

//! The ioctl entry point: from `(cmd, arg)` to a handler with its argument struct.
//!
//! Every iommufd ioctl passes a pointer to a struct whose first `u32` is the struct's size as
//! the caller knows it. [`UCmd::read`] copies it the way `copy_struct_from_user()` does, so
//! that old binaries run on new kernels and new binaries fail cleanly on old ones:
//!
//! - a size below the command's first version ([`IoctlStruct::MIN_SIZE`]): `EINVAL`;
//! - bytes the kernel does not know (beyond its struct) must be zero, else `E2BIG`;
//! - bytes the caller did not pass read as zero.
//!
//! Unknown ioctl numbers give `ENOTTY`. A fault on the user memory gives `EFAULT`.

use kernel::{
    fs::{File, LocalFile},
    prelude::*,
    sync::aref::ARef,
    uaccess::{UserPtr, UserSlice},
};

use crate::{
    ctx::IommufdCtx,
    option,
    pagetable::ioas,
    uapi::{self, cmd, IoctlStruct},
};

/// One ioctl call: the context and the user's argument buffer.
pub(crate) struct UCmd<'a> {
    /// The file's context.
    pub(crate) ctx: &'a IommufdCtx,
    /// The user's struct.
    ubuf: UserPtr,
    /// Its size, as the user gave it in its first field.
    user_size: usize,
    /// What the ioctl returns on success (0 but for commands that return a descriptor).
    ret: core::cell::Cell<isize>,
}

impl UCmd<'_> {
    /// The file of the user's descriptor `fd`, for keeping beyond the ioctl (and sharing
    /// with other threads).
    ///
    /// # Errors
    ///
    /// `EBADF` if `fd` is not an open descriptor (a negative one included).
    pub(crate) fn fget(&self, fd: i32) -> Result<ARef<File>> {
        let file = LocalFile::fget(fd as u32).map_err(|_| EBADF)?;
        // SAFETY: An ioctl of `/dev/iommu` runs under `fdget()` of its own file, not
        // `fdget_pos()`, and takes no `fdget_pos` region itself, so none is active on this
        // thread for `file`, which may then be shared with other threads.
        Ok(unsafe { LocalFile::assume_no_fdget_pos(file) })
    }

    /// Makes the ioctl return `value` on success (a new descriptor).
    pub(crate) fn set_return(&self, value: isize) {
        self.ret.set(value);
    }

    /// The user pointer `offset` bytes into the argument struct.
    pub(crate) fn ubuf_at(&self, offset: usize) -> UserPtr {
        self.ubuf.wrapping_byte_add(offset)
    }

    /// Reads the argument struct like `copy_struct_from_user()`.
    ///
    /// # Errors
    ///
    /// `E2BIG` if bytes beyond the kernel's struct are not zero, `EFAULT` on a fault.
    pub(crate) fn read<T: IoctlStruct>(&self) -> Result<T> {
        let mut cmd = T::zeroed();
        copy_struct_from_user(cmd.as_bytes_mut(), self.ubuf, self.user_size)?;
        Ok(cmd)
    }

    /// Writes `cmd` back to the user, as much of it as the user's struct holds.
    ///
    /// # Errors
    ///
    /// `EFAULT` on a fault.
    pub(crate) fn respond<T: IoctlStruct>(&self, cmd: &T) -> Result {
        let n = self.user_size.min(core::mem::size_of::<T>());
        UserSlice::new(self.ubuf, n)
            .writer()
            .write_slice(&cmd.as_bytes()[..n])
    }
}

/// Copies the `len` bytes at `src`, a struct of a version the user knows, into `dst`, a
/// struct of the version the kernel knows, like `copy_struct_from_user()`: bytes the user
/// did not pass stay as they are (zero, for a zeroed `dst`); bytes the kernel does not know
/// must be zero.
///
/// # Errors
///
/// `E2BIG` if bytes beyond `dst` are not zero, `EFAULT` on a fault.
pub(crate) fn copy_struct_from_user(dst: &mut [u8], src: UserPtr, len: usize) -> Result {
    let mut reader = UserSlice::new(src, len).reader();
    let known = len.min(dst.len());
    reader.read_slice(&mut dst[..known])?;
    // The tail the kernel does not know must be zero; read it in chunks.
    let mut chunk = [0u8; 64];
    while !reader.is_empty() {
        let n = reader.len().min(chunk.len());
        reader.read_slice(&mut chunk[..n])?;
        if chunk[..n].iter().any(|&b| b != 0) {
            return Err(E2BIG);
        }
    }
    Ok(())
}

/// One entry of the ioctl table.
struct Op {
    /// The full ioctl number the entry answers to.
    ioctl: u32,
    /// The smallest size the caller may pass.
    min_size: usize,
    /// Reads the argument and runs the command.
    exec: fn(&UCmd<'_>) -> Result,
}

/// Declares an [`Op`] for command `$nr` taking `$ty`, handled by `$handler(&UCmd, &mut $ty)`.
macro_rules! op {
    ($nr:expr, $ty:ty, $handler:path) => {
        Op {
            ioctl: uapi::iommufd_ioctl($nr),
            min_size: <$ty as IoctlStruct>::MIN_SIZE,
            exec: |ucmd| {
                let mut arg: $ty = ucmd.read()?;
                $handler(ucmd, &mut arg)
            },
        }
    };
}

/// The commands, by number.
const OPS: &[Op] = &[
    op!(cmd::DESTROY, uapi::Destroy, destroy),
    op!(cmd::IOAS_ALLOC, uapi::IoasAlloc, ioas::alloc),
    op!(
        cmd::IOAS_IOVA_RANGES,
        uapi::IoasIovaRanges,
        ioas::iova_ranges
    ),
    op!(
        cmd::IOAS_ALLOW_IOVAS,
        uapi::IoasAllowIovas,
        ioas::allow_iovas
    ),
    op!(cmd::IOAS_COPY, uapi::IoasCopy, ioas::copy),
    op!(cmd::IOAS_MAP, uapi::IoasMap, ioas::map),
    op!(cmd::IOAS_MAP_FILE, uapi::IoasMapFile, ioas::map_file),
    op!(cmd::IOAS_UNMAP, uapi::IoasUnmap, ioas::unmap),
    op!(cmd::OPTION, uapi::IommuOption, option::option),
    op!(cmd::VFIO_IOAS, uapi::VfioIoas, ioas::vfio_ioas),
    op!(
        cmd::IOAS_CHANGE_PROCESS,
        uapi::IoasChangeProcess,
        ioas::change_process
    ),
    op!(
        cmd::HWPT_ALLOC,
        uapi::HwptAlloc,
        crate::pagetable::hwpt::alloc
    ),
    op!(
        cmd::GET_HW_INFO,
        uapi::HwInfo,
        crate::device::hw_info::get_hw_info
    ),
    op!(
        cmd::HWPT_SET_DIRTY_TRACKING,
        uapi::HwptSetDirtyTracking,
        crate::pagetable::dirty::set_dirty_tracking
    ),
    op!(
        cmd::HWPT_GET_DIRTY_BITMAP,
        uapi::HwptGetDirtyBitmap,
        crate::pagetable::dirty::get_dirty_bitmap
    ),
    op!(
        cmd::HWPT_INVALIDATE,
        uapi::HwptInvalidate,
        crate::pagetable::hwpt::invalidate
    ),
    op!(
        cmd::FAULT_QUEUE_ALLOC,
        uapi::FaultAlloc,
        crate::pagetable::eventq::fault::alloc
    ),
    op!(
        cmd::VIOMMU_ALLOC,
        uapi::ViommuAlloc,
        crate::pagetable::viommu::alloc
    ),
    op!(
        cmd::VDEVICE_ALLOC,
        uapi::VdeviceAlloc,
        crate::device::vdevice::alloc
    ),
    op!(
        cmd::HW_QUEUE_ALLOC,
        uapi::HwQueueAlloc,
        crate::pagetable::viommu::hw_queue::alloc
    ),
    op!(
        cmd::VEVENTQ_ALLOC,
        uapi::VeventqAlloc,
        crate::pagetable::eventq::veventq::alloc
    ),
    #[cfg(CONFIG_IOMMUFD_TEST)]
    op!(cmd::TEST, uapi::TestCmd, crate::selftest::test_cmd),
];

/// Command numbers from `cmd::BASE` to `cmd::LAST`.
const SLOTS: usize = (cmd::LAST - cmd::BASE + 1) as usize;

/// For each command number from `cmd::BASE`, one plus the position of its entry in [`OPS`];
/// 0 where there is none. Built at compile time, so that dispatch is one lookup, as C's
/// table indexed by number.
const INDEX: [u8; SLOTS] = {
    let mut index = [0u8; SLOTS];
    let mut i = 0;
    while i < OPS.len() {
        let slot = (kernel::ioctl::_IOC_NR(OPS[i].ioctl) - cmd::BASE) as usize;
        // Two entries for one number, or more entries than a `u8` counts, fail the build.
        assert!(index[slot] == 0 && i < u8::MAX as usize);
        index[slot] = (i + 1) as u8;
        i += 1;
    }
    index
};

/// Finds the table entry of command `nr`.
fn find_op(nr: u32) -> Option<&'static Op> {
    let slot = *INDEX.get(nr.checked_sub(cmd::BASE)? as usize)?;
    OPS.get(usize::from(slot).checked_sub(1)?)
}

/// Handles one ioctl on `ctx`.
///
/// # Errors
///
/// `ENOTTY` for an ioctl that is neither iommufd's nor VFIO's, `EFAULT` if the size cannot be read, `EINVAL`
/// if the size is too small, and whatever the command returns.
pub(crate) fn dispatch(ctx: &IommufdCtx, cmd: u32, arg: usize) -> Result<isize> {
    let nr = kernel::ioctl::_IOC_NR(cmd);
    if !(cmd::BASE..=cmd::LAST).contains(&nr) {
        // Not an iommufd command: perhaps VFIO's, on the compatibility IOAS.
        return crate::vfio_compat::ioctl(ctx, cmd, arg);
    }
    let ubuf = UserPtr::from_addr(arg);
    let user_size: u32 = UserSlice::new(ubuf, 4).reader().read()?;
    let op = find_op(nr).ok_or(ENOTTY)?;
    if op.ioctl != cmd {
        return Err(ENOTTY);
    }
    let user_size = user_size as usize;
    if user_size < op.min_size {
        return Err(EINVAL);
    }
    let ucmd = UCmd {
        ctx,
        ubuf,
        user_size,
        ret: core::cell::Cell::new(0),
    };
    (op.exec)(&ucmd).map(|()| ucmd.ret.get())
}

/// `IOMMU_DESTROY`: destroys any object by id.
fn destroy(ucmd: &UCmd<'_>, cmd: &mut uapi::Destroy) -> Result {
    let (kind, res) = ucmd.ctx.objects.destroy(cmd.id);
    crate::trace::destroy(ucmd.ctx.objects.seq(), cmd.id, kind, &res);
    res
}
