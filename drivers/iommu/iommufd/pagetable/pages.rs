// SPDX-License-Identifier: GPL-2.0

//! `Pages`: a source of pages that mappings point into.
//!
//! `IOMMU_IOAS_MAP` makes a `Pages` for the user memory it is given: the page-aligned span of
//! the process's address space, the mm it lives in, whether it may be written, and whom
//! pinning it will be charged to. The areas ([`super::area::Area`]) that map it hold it by
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
//! reference on the mm (`mmgrab`, not `mmget`): the address space may exit meanwhile, and
//! pinning then fails.

use kernel::{
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

/// A span of user memory that mappings point into.
pub(crate) struct Pages {
    /// Page-aligned user address of the first page.
    uptr: usize,
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
    /// The address space the span lives in.
    _mm: ARef<Mm>,
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
        if length == 0 || length > usize::MAX - PAGE_SIZE {
            return Err(EINVAL);
        }
        let offset = uptr % PAGE_SIZE;
        let task = kernel::current!();
        let mm: ARef<Mm> = ARef::from(&**task.mm().ok_or(EINVAL)?);
        let account = if kernel::capability::capable(kernel::capability::Capability::IPC_LOCK) {
            PinAccount::None
        } else if mode == AccountMode::Mm {
            PinAccount::Mm
        } else {
            PinAccount::User
        };
        let pages = Arc::new(
            Self {
                uptr: uptr - offset,
                npages: (length + offset).div_ceil(PAGE_SIZE),
                writable,
                account,
                _mm: mm,
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        Ok((pages, offset))
    }

    /// Whether the memory may be mapped writeable.
    pub(crate) fn writable(&self) -> bool {
        self.writable
    }

    /// The user address of byte `start_byte` of the span.
    pub(crate) fn user_address(&self, start_byte: usize) -> usize {
        self.uptr + start_byte
    }
}
