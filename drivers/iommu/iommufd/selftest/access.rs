// SPDX-License-Identifier: GPL-2.0

//! The test command's accessor: an in-kernel access driven from user space.
//!
//! `IOMMU_TEST_OP_CREATE_ACCESS` creates an [`Access`] attached to an IOAS and returns a file
//! descriptor for it (an anonymous file, `[iommufd_test_staccess]`). The other ops name the
//! access by that descriptor: `ACCESS_PAGES` pins a range and records it as an item with an
//! id, `DESTROY_ACCESS_PAGES` unpins an item, `ACCESS_RW` copies through the access, and
//! `ACCESS_REPLACE_IOAS` moves it. When user space unmaps a range, the IOAS calls
//! [`AccessOps::unmap`] and the items in it are unpinned. Closing the descriptor unpins
//! everything and destroys the access.
//!
//! # Lifetime
//!
//! The file holds a [`StAccessFile`], whose drop tears down. The [`StAccess`] and the
//! [`Access`] refer to each other (the access's callbacks are the `StAccess`) until
//! [`Access::destroy`] forgets the callbacks.
//!
//! # Locking
//!
//! `items` is held across a pin (as C does), so that an unmap callback, which takes it,
//! cannot return before a concurrent pin is recorded and then unpinned. It is taken before
//! the access's lock.

use kernel::{
    alloc::{flags::GFP_KERNEL_ACCOUNT, KVVec},
    bindings,
    fs::{anon_inode::AnonFileOps, file::FileDescriptorReservation, LocalFile},
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    sync::{Arc, Mutex},
    uaccess::{UserPtr, UserSlice},
};

use super::FLAGS_ACCESS_SYZ;
use crate::pagetable::pages::RwFlags;
use crate::{
    ctx::CtxRef,
    device::access::{Access, AccessOps},
    ucmd::UCmd,
};

/// `MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES`.
const CREATE_NEEDS_PIN_PAGES: u32 = kernel::uapi::MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES;
/// `MOCK_FLAGS_ACCESS_WRITE`, also `MOCK_ACCESS_RW_WRITE`.
const ACCESS_WRITE: u32 = kernel::uapi::MOCK_FLAGS_ACCESS_WRITE;
/// `MOCK_ACCESS_RW_SLOW_PATH`: every copy takes the one path this module has.
const RW_SLOW_PATH: u32 = kernel::uapi::MOCK_ACCESS_RW_SLOW_PATH;

/// The largest range a test may pin or copy in one call (C's limit: 16 MiB).
const MAX_LENGTH: u64 = 16 * 1024 * 1024;

/// The IOVA a syzkaller-style `iova` names in the access's IOAS, or 0 if it has none.
fn syz_iova(access: &Access, iova: u64) -> u64 {
    access
        .with_ioas(|ioas| super::syz_conv_iova(ioas, iova))
        .unwrap_or(0)
}

/// An errno the kernel crate does not name.
fn errno(e: u32) -> Error {
    Error::from_errno(-(e as i32))
}

/// One pinned range.
struct Item {
    iova: u64,
    length: u64,
    id: u32,
}

/// The pinned ranges of an accessor.
struct Items {
    list: KVec<Item>,
    next_id: u32,
}

/// An accessor.
#[pin_data]
struct StAccess {
    /// The access it drives.
    access: Arc<Access>,
    /// What it pinned.
    #[pin]
    items: Mutex<Items>,
}

impl AccessOps for StAccess {
    fn unmap(&self, iova: u64, length: u64) {
        let last = iova.saturating_add(length.saturating_sub(1));
        let mut items = self.items.lock();
        items.list.retain(|item| {
            let item_last = item.iova + item.length - 1;
            if iova > item_last || last < item.iova {
                return true;
            }
            self.access.unpin_pages(item.iova, item.length);
            false
        });
    }
}

/// What the accessor's file holds: closing the file tears the accessor down.
struct StAccessFile(Arc<StAccess>);

impl Drop for StAccessFile {
    fn drop(&mut self) {
        self.0.unmap(0, u64::MAX);
        Access::destroy(&self.0.access);
    }
}

/// The accessor files' operations.
static ACCESS_FOPS: AnonFileOps<KBox<StAccessFile>> = AnonFileOps::new(&crate::THIS_MODULE);

/// Runs `f` on the accessor of the descriptor `fd`.
///
/// # Errors
///
/// `EBADFD` if `fd` is not an accessor's, and what `f` returns.
fn with_access<R>(fd: u32, f: impl FnOnce(&Arc<StAccess>) -> Result<R>) -> Result<R> {
    let file = LocalFile::fget(fd).map_err(|_| errno(bindings::EBADFD))?;
    let st = ACCESS_FOPS.data(&file).ok_or(errno(bindings::EBADFD))?;
    f(&st.0)
}

/// `IOMMU_TEST_OP_CREATE_ACCESS`: an accessor attached to the IOAS `ioas_id`; its descriptor
/// goes to `out_access_fd`.
pub(super) fn create(
    ucmd: &UCmd<'_>,
    cmd: &mut crate::uapi::TestCmd,
    ioas_id: u32,
    flags: u32,
) -> Result {
    if flags & !CREATE_NEEDS_PIN_PAGES != 0 {
        return Err(EOPNOTSUPP);
    }
    let fd = FileDescriptorReservation::get_unused_fd_flags(bindings::O_CLOEXEC)?;
    let access = Access::create(CtxRef::new(ucmd), flags & CREATE_NEEDS_PIN_PAGES != 0)?;
    let driven = access.clone();
    let st = Arc::pin_init(
        pin_init!(StAccess {
            access: driven,
            items <- new_mutex!(Items {
                list: KVec::new(),
                next_id: 0,
            }),
        }),
        GFP_KERNEL_ACCOUNT,
    );
    let st = match st {
        Ok(st) => st,
        Err(e) => {
            Access::destroy(&access);
            return Err(e);
        }
    };
    access.set_ops(st.clone());
    // From here on, dropping the `StAccessFile` (or the file holding it) tears everything
    // down, also when allocating its box fails.
    let holder = KBox::new(StAccessFile(st), GFP_KERNEL_ACCOUNT)?;
    let file = ACCESS_FOPS.create(c"[iommufd_test_staccess]", holder, bindings::O_RDWR)?;
    Access::attach(&access, ioas_id)?;
    cmd.__bindgen_anon_1.create_access.out_access_fd = fd.reserved_fd();
    ucmd.respond(cmd)?;
    fd.fd_install(file);
    Ok(())
}

/// `IOMMU_TEST_OP_ACCESS_REPLACE_IOAS`.
pub(super) fn replace_ioas(fd: u32, ioas_id: u32) -> Result {
    with_access(fd, |st| Access::replace(&st.access, ioas_id))
}

/// Checks that `pfns` are the pages of the user memory at `uptr` (page aligned).
///
/// # Errors
///
/// `EBADE` on a mismatch, `EFAULT`.
fn check_pages(uptr: usize, pfns: &[usize]) -> Result {
    for (i, &pfn) in pfns.iter().enumerate() {
        if super::user_pfn(uptr + i * PAGE_SIZE)? != pfn {
            return Err(errno(bindings::EBADE));
        }
    }
    Ok(())
}

/// `IOMMU_TEST_OP_ACCESS_PAGES`: pins `[iova, iova + length)`, checks the pages against the
/// user memory at `uptr` (unless 0), and records the range; its id goes to
/// `out_access_pages_id`.
pub(super) fn pages(
    ucmd: &UCmd<'_>,
    cmd: &mut crate::uapi::TestCmd,
    fd: u32,
    flags: u32,
    iova: u64,
    length: u64,
    uptr: u64,
) -> Result {
    if length > MAX_LENGTH {
        return Err(ENOMEM);
    }
    if flags & !(ACCESS_WRITE | FLAGS_ACCESS_SYZ) != 0 {
        return Err(EOPNOTSUPP);
    }
    with_access(fd, |st| {
        if !st.access.needs_pin() {
            return Err(EOPNOTSUPP);
        }
        let iova = if flags & FLAGS_ACCESS_SYZ != 0 {
            syz_iova(&st.access, iova)
        } else {
            iova
        };
        let page = PAGE_SIZE as u64;
        let first = iova & !(page - 1);
        let end = iova.checked_add(length).ok_or(EOVERFLOW)?;
        let npages = end.div_ceil(page).saturating_sub(first / page) as usize;
        let mut pfns = KVVec::with_capacity(npages, GFP_KERNEL_ACCOUNT)?;
        let mut items = st.items.lock();
        st.access
            .pin_pages(iova, length, flags & ACCESS_WRITE != 0, |pfn| {
                // The capacity is the number of pages of the range.
                let _ = pfns.push_within_capacity(pfn);
            })?;
        let mut recorded = || -> Result<u32> {
            if uptr != 0 {
                check_pages(uptr as usize - (iova - first) as usize, &pfns)?;
            }
            let id = items.next_id;
            items
                .list
                .push(Item { iova, length, id }, GFP_KERNEL_ACCOUNT)?;
            items.next_id = id.wrapping_add(1);
            Ok(id)
        };
        match recorded() {
            Ok(id) => {
                cmd.__bindgen_anon_1.access_pages.out_access_pages_id = id;
                if let Err(e) = ucmd.respond(cmd) {
                    items.list.retain(|item| item.id != id);
                    st.access.unpin_pages(iova, length);
                    return Err(e);
                }
                Ok(())
            }
            Err(e) => {
                st.access.unpin_pages(iova, length);
                Err(e)
            }
        }
    })
}

/// `IOMMU_TEST_OP_DESTROY_ACCESS_PAGES`: unpins the range recorded as `id`.
///
/// # Errors
///
/// `ENOENT` for no such range, `EBADFD`.
pub(super) fn destroy_pages(fd: u32, id: u32) -> Result {
    with_access(fd, |st| {
        let mut items = st.items.lock();
        let pos = items
            .list
            .iter()
            .position(|item| item.id == id)
            .ok_or(ENOENT)?;
        let item = items.list.remove(pos).map_err(|_| ENOENT)?;
        st.access.unpin_pages(item.iova, item.length);
        Ok(())
    })
}

/// `IOMMU_TEST_OP_ACCESS_RW`: copies `length` bytes between the user buffer at `uptr` and the
/// IOVA `iova`, through the access.
pub(super) fn rw(fd: u32, iova: u64, length: u64, uptr: u64, flags: u32) -> Result {
    if length > MAX_LENGTH {
        return Err(ENOMEM);
    }
    if flags & !(ACCESS_WRITE | RW_SLOW_PATH | FLAGS_ACCESS_SYZ) != 0 {
        return Err(EOPNOTSUPP);
    }
    with_access(fd, |st| {
        let write = flags & ACCESS_WRITE != 0;
        let len = length as usize;
        let mut buf = KVVec::from_elem(0u8, len, GFP_KERNEL_ACCOUNT)?;
        let user = || UserSlice::new(UserPtr::from_addr(uptr as usize), len);
        if write {
            user().reader().read_slice(&mut buf)?;
        }
        let iova = if flags & FLAGS_ACCESS_SYZ != 0 {
            syz_iova(&st.access, iova)
        } else {
            iova
        };
        let rw = RwFlags {
            write,
            kthread: false,
            slow_path: flags & RW_SLOW_PATH != 0,
        };
        st.access.rw(iova, &mut buf, rw)?;
        if !write {
            user().writer().write_slice(&buf)?;
        }
        Ok(())
    })
}
