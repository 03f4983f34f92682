// SPDX-License-Identifier: GPL-2.0

//! `Pages`: a source of pages that mappings point into.
//!
//! `IOMMU_IOAS_MAP` makes a `Pages` for the user memory it is given: the page-aligned span of
//! the process's address space, the mm it lives in, whether it may be written, and whom
//! pinning it will be charged to. `IOMMU_IOAS_MAP_FILE` makes one for a span of a file (a
//! memfd), by file offset. The areas ([`super::area::Area`]) that map it hold it by
//! [`Arc`]; `IOMMU_IOAS_COPY` makes more areas over the same `Pages`, so the memory is pinned
//! once however many IO address spaces map it.
//!
//! As in the C iommufd, pages are pinned only when something needs them in memory: a
//! hardware page table to fill, or an in-kernel access. An IOAS without either holds only
//! this lazy reference, and mapping costs no pinning and no accounting.
//!
//! # Lifetime
//!
//! A `Pages` lives as long as an area (or, later, an access) refers to it. It holds a
//! reference on the mm (`mmgrab`, not `mmget`: the address space may exit meanwhile, and
//! pinning then fails), or on the file.

use kernel::{
    fs::{File, LocalFile},
    mm::Mm,
    page::PAGE_SIZE,
    prelude::*,
    sync::{aref::ARef, Arc},
};

use crate::ctx::AccountMode;

/// Whom pinning the pages of a [`Pages`] is charged to.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum PinAccount {
    /// Nobody: the mapping process had `CAP_IPC_LOCK`.
    None,
    /// `RLIMIT_MEMLOCK` of the user, in `user->locked_vm`.
    User,
    /// `RLIMIT_MEMLOCK` of the mm, in `mm->locked_vm`.
    Mm,
}

/// Where the pages of a [`Pages`] come from.
enum Source {
    /// User memory of an address space.
    User {
        /// Page-aligned user address of the first page.
        uptr: usize,
        /// The address space.
        _mm: ARef<Mm>,
    },
    /// A file, by offset.
    File {
        /// Page-aligned file offset of the first page.
        start: u64,
        /// The file.
        _file: ARef<File>,
    },
}

/// A span of memory that mappings point into.
pub(crate) struct Pages {
    /// Where the pages come from.
    source: Source,
    /// Number of pages of the span.
    #[expect(
        dead_code,
        reason = "read when pages are pinned for domains and accesses"
    )]
    npages: usize,
    /// Whether the memory may be pinned for writing.
    writable: bool,
    /// Whom pins are charged to.
    #[expect(
        dead_code,
        reason = "read when pages are pinned for domains and accesses"
    )]
    account: PinAccount,
}

/// Checks a span's length as C does, and returns its number of pages.
///
/// # Errors
///
/// `EINVAL` for a zero length or one so large that `size_t` arithmetic on it overflows.
fn npages_of(offset: usize, length: usize) -> Result<usize> {
    if length == 0 || length > usize::MAX - PAGE_SIZE {
        return Err(EINVAL);
    }
    Ok((length + offset).div_ceil(PAGE_SIZE))
}

/// Whom pins of the current task are charged to, in a context of accounting mode `mode`.
fn pin_account(mode: AccountMode) -> PinAccount {
    if kernel::capability::capable(kernel::capability::Capability::IPC_LOCK) {
        PinAccount::None
    } else if mode == AccountMode::Mm {
        PinAccount::Mm
    } else {
        PinAccount::User
    }
}

impl Pages {
    /// The span of `length` bytes of user memory at `uptr`, in the current process.
    ///
    /// Returns it with the offset of `uptr` in its first page.
    ///
    /// # Errors
    ///
    /// `EOVERFLOW` if the span wraps, `EINVAL` for a zero or too large length or a task
    /// without an mm, `ENOMEM`.
    pub(crate) fn new_user(
        uptr: usize,
        length: usize,
        writable: bool,
        mode: AccountMode,
    ) -> Result<(Arc<Self>, usize)> {
        uptr.checked_add(length).ok_or(EOVERFLOW)?;
        let offset = uptr % PAGE_SIZE;
        let npages = npages_of(offset, length)?;
        let task = kernel::current!();
        let mm: ARef<Mm> = ARef::from(&**task.mm().ok_or(EINVAL)?);
        let pages = Arc::new(
            Self {
                source: Source::User {
                    uptr: uptr - offset,
                    _mm: mm,
                },
                npages,
                writable,
                account: pin_account(mode),
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        Ok((pages, offset))
    }

    /// The span of `length` bytes of the file `fd` from offset `start`.
    ///
    /// Returns it with the offset of `start` in its first page. The file is not checked
    /// here: like C, pinning (which needs a memfd, shmem or hugetlbfs) finds out.
    ///
    /// # Errors
    ///
    /// `EINVAL` for a zero or too large length, `EOVERFLOW` if the span wraps, `EBADF` for a
    /// bad descriptor, `ENOMEM`.
    pub(crate) fn new_file(
        fd: i32,
        start: u64,
        length: usize,
        writable: bool,
        mode: AccountMode,
    ) -> Result<(Arc<Self>, usize)> {
        if length == 0 {
            return Err(EINVAL);
        }
        start.checked_add(length as u64 - 1).ok_or(EOVERFLOW)?;
        let offset = (start % PAGE_SIZE as u64) as usize;
        // A negative descriptor is as bad as any other: `fget` refuses it.
        let file = LocalFile::fget(fd as u32).map_err(|_| EBADF)?;
        // SAFETY: This runs in an ioctl on another file; no `fdget_pos` region is active on
        // this thread for `file`, so it may be shared with other threads.
        let file = unsafe { LocalFile::assume_no_fdget_pos(file) };
        let npages = npages_of(offset, length)?;
        let pages = Arc::new(
            Self {
                source: Source::File {
                    start: start - offset as u64,
                    _file: file,
                },
                npages,
                writable,
                account: pin_account(mode),
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        Ok((pages, offset))
    }

    /// Whether the memory may be mapped writeable.
    pub(crate) fn writable(&self) -> bool {
        self.writable
    }

    /// The address of byte `start_byte` of the span, in its source (user address or file
    /// offset): the IOVA allocator keeps its alignment.
    pub(crate) fn source_address(&self, start_byte: usize) -> usize {
        match &self.source {
            Source::User { uptr, .. } => uptr + start_byte,
            Source::File { start, .. } => (*start as usize).wrapping_add(start_byte),
        }
    }
}
