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

use core::fmt;

use kernel::{
    fs::File,
    mm::{
        pin::{self, PinBatch, PinFlags, PinnedRun, User},
        Mm,
    },
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    sync::{aref::ARef, Arc, Mutex},
    task::Task,
    uaccess::{UserPtr, UserSlice},
};

use super::{
    dmabuf::DmaBufImport,
    pinned::{PinSource, PinnedSet},
};
use crate::{
    ctx::AccountMode,
    trace::{self, PinEvent},
};

/// Whether `mm` is the current process's address space.
fn is_current_mm(mm: &Mm) -> bool {
    kernel::current!()
        .mm()
        .is_some_and(|m| core::ptr::eq::<Mm>(&**m, mm))
}

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
    /// User memory of the address space of [`Owner::mm`].
    User {
        /// Page-aligned user address of the first page.
        uptr: usize,
    },
    /// A dma-buf: physical memory an exporter gives, not pinned nor charged.
    DmaBuf {
        /// Page-aligned offset in the buffer of the first page.
        start: u64,
        /// The import.
        import: DmaBufImport,
    },
    /// A file, by offset.
    File {
        /// Page-aligned file offset of the first page.
        start: u64,
        /// The file.
        file: ARef<File>,
    },
}

/// How a copy through an access reaches the memory (C's `IOMMUFD_ACCESS_RW_*`).
#[derive(Copy, Clone)]
pub(crate) struct RwFlags {
    /// Into the memory (`IOMMUFD_ACCESS_RW_WRITE`).
    pub(crate) write: bool,
    /// The caller is a kernel thread (`IOMMUFD_ACCESS_RW_KTHREAD`): it copies through pins.
    pub(crate) kthread: bool,
    /// Take the path of a caller in another address space (the test command's
    /// `MOCK_ACCESS_RW_SLOW_PATH`, C's `__IOMMUFD_ACCESS_RW_SLOW_PATH`).
    pub(crate) slow_path: bool,
}

/// The process pins are charged to (and, for user memory, whose memory it is).
struct Owner {
    /// Its address space: `VmPin` counts there, and user memory lives there.
    mm: ARef<Mm>,
    /// Its thread group leader, whose `RLIMIT_MEMLOCK` applies.
    task: ARef<Task>,
    /// Its user, whose `locked_vm` [`PinAccount::User`] charges.
    user: ARef<User>,
    /// Whom pins are charged to.
    account: PinAccount,
}

impl Owner {
    /// The current process, charged as `mode` says (nobody with `CAP_IPC_LOCK`).
    fn current(mode: AccountMode) -> Result<Self> {
        Self::current_as(pin_account(mode))
    }
}

/// What a [`Pages`] protects with its mutex.
struct PinState {
    /// The pinned pages.
    set: PinnedSet,
    /// Whom they are charged to.
    owner: Owner,
}

/// A span of memory that mappings point into.
///
/// # Locking
///
/// `state` is taken inside an IO page table's locks (its `domains` semaphore when areas are
/// filled or emptied, its `state` mutex when they are accessed) and outside the source mm's
/// `mmap_lock` (which pinning and accounting take). It is held across pinning: two maps of
/// the same memory pin one after the other, maps of different memory at once.
#[pin_data(PinnedDrop)]
pub(crate) struct Pages {
    /// Where the pages come from.
    source: Source,
    /// Number of pages of the span.
    npages: usize,
    /// Whether the memory may be pinned for writing.
    writable: bool,
    /// The pinned pages and whom they are charged to.
    #[pin]
    state: Mutex<PinState>,
}

/// One pinning operation: the source of a [`Pages`] and its owner, under its lock.
struct Pinner<'a> {
    pages: &'a Pages,
    owner: &'a Owner,
}

impl Pinner<'_> {
    /// Pins up to `npages` pages of user memory from `index` into `batch` with `flags`
    /// (file memory is always pinned long-term); returns how many.
    fn pin_with(
        &self,
        batch: &mut PinBatch,
        index: usize,
        npages: usize,
        flags: PinFlags,
    ) -> Result<usize> {
        // C's fault point before each pin of user or file memory.
        if !matches!(self.pages.source, Source::DmaBuf { .. }) && crate::should_fail() {
            return Err(EFAULT);
        }
        match &self.pages.source {
            Source::User { uptr } => {
                let addr = uptr + index * PAGE_SIZE;
                if is_current_mm(&self.owner.mm) {
                    batch.pin_user(None, addr, npages, flags)
                } else {
                    let mm = self.owner.mm.mmget_not_zero().ok_or(EFAULT)?;
                    batch.pin_user(Some(&mm), addr, npages, flags)
                }
            }
            Source::File { start, file } => {
                batch.pin_file(file, start + (index * PAGE_SIZE) as u64, npages)
            }
            // Never pinned: `Pages` does not ask.
            Source::DmaBuf { .. } => Err(EINVAL),
        }
    }
}

impl PinSource for Pinner<'_> {
    fn pin(&self, batch: &mut PinBatch, index: usize, npages: usize) -> Result<usize> {
        let flags = if self.pages.writable {
            PinFlags::LONGTERM.with(PinFlags::WRITE)
        } else {
            PinFlags::LONGTERM
        };
        self.pin_with(batch, index, npages, flags)
    }

    fn charge(&self, npages: usize) -> Result {
        self.owner.charge(npages)
    }

    fn uncharge(&self, npages: usize) {
        self.owner.uncharge(npages);
    }

    fn dirty(&self) -> bool {
        self.pages.writable
    }

    fn batch_pages(&self) -> usize {
        batch_pages()
    }
}

/// The bytes of temporary memory a pinning batch may use (C's `iommufd_test_memory_limit`):
/// 64 KiB. The test driver lowers it (`IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT`) to force
/// batches to split; it is read once per batch.
#[cfg(CONFIG_IOMMUFD_TEST)]
pub(crate) static TEMP_MEMORY_LIMIT: kernel::sync::atomic::Atomic<u32> =
    kernel::sync::atomic::Atomic::new(65536);

/// Pages one pinning batch may hold: its array of page pointers stays within the temporary
/// memory limit.
fn batch_pages() -> usize {
    #[cfg(CONFIG_IOMMUFD_TEST)]
    let limit = TEMP_MEMORY_LIMIT.load(kernel::sync::atomic::Relaxed) as usize;
    #[cfg(not(CONFIG_IOMMUFD_TEST))]
    let limit = 65536usize;
    (limit / core::mem::size_of::<usize>()).max(1)
}

impl Owner {
    /// The current process, charged as `account` says.
    fn current_as(account: PinAccount) -> Result<Self> {
        let task = kernel::current!();
        let mm: ARef<Mm> = ARef::from(&**task.mm().ok_or(EINVAL)?);
        Ok(Self {
            mm,
            task: ARef::from(task.group_leader()),
            user: User::current(),
            account,
        })
    }

    /// Whether the current process is the owner: pins would be charged to the same place
    /// (C's `need_charge_update()`, negated).
    fn is_current(&self) -> bool {
        let same_mm = is_current_mm(&self.mm);
        match self.account {
            // `VmPin` counts in the mm whatever the mode.
            PinAccount::None | PinAccount::Mm => same_mm,
            PinAccount::User => same_mm && core::ptr::eq::<User>(&*self.user, &*User::current()),
        }
    }

    /// Charges `npages` pinned pages.
    fn charge(&self, npages: usize) -> Result {
        self.charge_limited(npages, true)
    }

    /// Charges `npages` pinned pages, against the limit if `limited`.
    fn charge_limited(&self, npages: usize, limited: bool) -> Result {
        match self.account {
            PinAccount::None => {}
            PinAccount::User => {
                let limit = if limited {
                    pin::memlock_limit_pages(&self.task)
                } else {
                    usize::MAX
                };
                self.user.charge_locked_vm(npages, limit)?
            }
            PinAccount::Mm => {
                let mm = self.mm.mmget_not_zero().ok_or(EINVAL)?;
                pin::account_locked_vm(&mm, npages, true, &self.task, !limited)?;
            }
        }
        pin::pinned_vm_add(&self.mm, npages as isize);
        Ok(())
    }

    /// Refunds `npages` pages charged by [`Owner::charge`].
    fn uncharge(&self, npages: usize) {
        match self.account {
            PinAccount::None => {}
            PinAccount::User => self.user.uncharge_locked_vm(npages),
            PinAccount::Mm => {
                // An mm that has exited has nothing left to refund.
                if let Some(mm) = self.mm.mmget_not_zero() {
                    let _ = pin::account_locked_vm(&mm, npages, false, &self.task, false);
                }
            }
        }
        pin::pinned_vm_add(&self.mm, -(npages as isize));
    }
}

/// Charges `npages` pinned pages to the current process, as `account` says, against its
/// limit (`IOMMU_IOAS_CHANGE_PROCESS` charges all it moves at once, before moving).
///
/// # Errors
///
/// `ENOMEM` over `RLIMIT_MEMLOCK`, `EINVAL` for a task without an mm.
pub(crate) fn charge_current(account: PinAccount, npages: usize) -> Result {
    Owner::current_as(account)?.charge(npages)
}

/// Refunds pages charged with [`charge_current`].
pub(crate) fn refund_current(account: PinAccount, npages: usize) {
    if let Ok(owner) = Owner::current_as(account) {
        owner.uncharge(npages);
    }
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
    /// A new `Pages` of `npages` pages from `source`, owned by the current process.
    fn new(source: Source, npages: usize, writable: bool, mode: AccountMode) -> Result<Arc<Self>> {
        let owner = Owner::current(mode)?;
        Arc::pin_init(
            pin_init!(Self {
                source,
                npages,
                writable,
                state <- new_mutex!(PinState {
                    set: PinnedSet::new(),
                    owner,
                }),
            }),
            GFP_KERNEL_ACCOUNT,
        )
    }

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
        let source = Source::User {
            uptr: uptr - offset,
        };
        Ok((Self::new(source, npages, writable, mode)?, offset))
    }

    /// The span of `length` bytes of the file `fd` from offset `start`.
    ///
    /// Returns it with the offset of `start` in its first page. The file is not checked
    /// here: like C, pinning (which needs a memfd, shmem or hugetlbfs) finds out.
    ///
    /// # Errors
    ///
    /// `EINVAL` for a zero or too large length, `EOVERFLOW` if the span wraps, what `fget`
    /// returns (`EBADF` for a bad descriptor), `ENOMEM`.
    pub(crate) fn new_file(
        fget: impl FnOnce() -> Result<ARef<File>>,
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
        let file = fget()?;
        let npages = npages_of(offset, length)?;
        let source = Source::File {
            start: start - offset as u64,
            file,
        };
        Ok((Self::new(source, npages, writable, mode)?, offset))
    }

    /// The span of `length` bytes of the dma-buf `fd` from offset `start`, imported on
    /// behalf of `dev`; `None` if `fd` is not a dma-buf.
    ///
    /// Returns it with the offset of `start` in its first page.
    ///
    /// # Errors
    ///
    /// As [`DmaBufImport::new`]; `EINVAL` for a too large length; `ENOMEM`.
    pub(crate) fn new_dmabuf(
        fd: i32,
        dev: &kernel::device::Device,
        start: u64,
        length: usize,
        writable: bool,
        mode: AccountMode,
    ) -> Option<Result<(Arc<Self>, usize)>> {
        let import = DmaBufImport::new(fd, dev, start, length)?;
        Some(import.and_then(|import| {
            let offset = (start % PAGE_SIZE as u64) as usize;
            let npages = npages_of(offset, length)?;
            let source = Source::DmaBuf {
                start: start - offset as u64,
                import,
            };
            Ok((Self::new(source, npages, writable, mode)?, offset))
        }))
    }

    /// The import, for a dma-buf's pages.
    pub(crate) fn dmabuf(&self) -> Option<(&DmaBufImport, u64)> {
        match &self.source {
            Source::DmaBuf { start, import } => Some((import, *start)),
            _ => None,
        }
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
            Source::File { start, .. } | Source::DmaBuf { start, .. } => {
                (*start as usize).wrapping_add(start_byte)
            }
        }
    }

    /// Writes where byte `start_byte` of the span comes from and whom its pins are charged
    /// to, as the live view prints it: `source=user:ADDR pid=PID`, `source=file:OFFSET` or
    /// `source=dmabuf:OFFSET`, then `charge=user|mm|none`.
    pub(crate) fn write_source(&self, f: &mut impl fmt::Write, start_byte: usize) -> fmt::Result {
        let state = self.state.lock();
        match &self.source {
            Source::User { uptr } => write!(
                f,
                "source=user:{:#x} pid={}",
                uptr + start_byte,
                state.owner.task.pid()
            )?,
            Source::File { start, .. } => {
                write!(f, "source=file:{:#x}", start + start_byte as u64)?
            }
            Source::DmaBuf { start, .. } => {
                write!(f, "source=dmabuf:{:#x}", start + start_byte as u64)?
            }
        }
        let charge = match state.owner.account {
            PinAccount::None => "none",
            PinAccount::User => "user",
            PinAccount::Mm => "mm",
        };
        write!(f, " charge={charge}")
    }

    /// Whether the memory is a file's (`IOMMU_IOAS_MAP_FILE`).
    pub(crate) fn is_file(&self) -> bool {
        // Not a dma-buf: `IOMMU_IOAS_CHANGE_PROCESS` refuses those, as C does.
        matches!(self.source, Source::File { .. })
    }

    /// If the pins are charged elsewhere than to the current process: how they are
    /// charged, and how many pages are pinned now.
    pub(crate) fn charge_to_move(&self) -> Option<(PinAccount, usize)> {
        let state = self.state.lock();
        (!state.owner.is_current()).then(|| (state.owner.account, state.set.npinned()))
    }

    /// Makes the current process the owner (`IOMMU_IOAS_CHANGE_PROCESS`), moving the charge
    /// of the pinned pages to it; `precharged` pages were charged to it already (from
    /// [`Pages::charge_to_move`]), and the difference with the pages pinned now is settled
    /// here, without a limit: those pages were charged against one when pinned.
    ///
    /// # Errors
    ///
    /// `EINVAL` if the current task has no mm; nothing changed then.
    pub(crate) fn move_to_current(&self, precharged: usize) -> Result {
        let mut state = self.state.lock();
        let new = Owner::current_as(state.owner.account)?;
        let moving = !state.owner.is_current();
        let actual = if moving { state.set.npinned() } else { 0 };
        if actual > precharged {
            new.charge_limited(actual - precharged, false)?;
        } else if actual < precharged {
            new.uncharge(precharged - actual);
        }
        if moving {
            state.owner.uncharge(actual);
        }
        state.owner = new;
        Ok(())
    }

    /// Runs `f` on the pinned set with the pinner of this `Pages`, under its lock.
    fn with_set<R>(&self, f: impl FnOnce(&mut PinnedSet, &Pinner<'_>) -> R) -> R {
        let mut guard = self.state.lock();
        let PinState { set, owner } = &mut *guard;
        f(set, &Pinner { pages: self, owner })
    }

    /// Pages pinned now (once each, whatever their users).
    pub(crate) fn npinned(&self) -> usize {
        self.with_set(|set, _| set.npinned())
    }

    /// Adds a user to pages `first..=last` (indexes), pinning and charging those that had
    /// none. On error nothing changed.
    ///
    /// # Errors
    ///
    /// `ENOMEM` (also over `RLIMIT_MEMLOCK`), `EFAULT` for memory that is not mapped, as
    /// `memfd_pin_folios` fails for files (`EINVAL` beyond the end of the file).
    pub(crate) fn add_users(&self, first: usize, last: usize) -> Result {
        if first > last || last >= self.npages {
            return Err(EINVAL);
        }
        if self.dmabuf().is_some() {
            // The exporter keeps the memory; mapping it tracks it instead.
            return Ok(());
        }
        self.with_set(|set, pinner| {
            let before = set.npinned();
            let res = set.add_users(first, last, pinner);
            let event = self.pin_event(pinner, first, last, set.npinned() - before, set);
            trace::pin(&event, &res);
            res
        })
    }

    /// What a pin or unpin of pages `first..=last` that changed `pages` pages tells the
    /// tracepoints.
    fn pin_event(
        &self,
        pinner: &Pinner<'_>,
        first: usize,
        last: usize,
        pages: usize,
        set: &PinnedSet,
    ) -> PinEvent {
        PinEvent {
            pid: pinner.owner.task.pid(),
            addr: match self.source {
                Source::User { uptr } => uptr,
                _ => 0,
            },
            index: first,
            npages: last - first + 1,
            pages,
            runs: set.nruns(),
        }
    }

    /// Makes `index` the first page of a run, so that the users of the pages before it and
    /// from it can be removed separately (an area cut in two there).
    ///
    /// # Errors
    ///
    /// `ENOMEM`; nothing changed then.
    pub(crate) fn split_runs(&self, index: usize) -> Result {
        if self.dmabuf().is_some() {
            return Ok(());
        }
        self.with_set(|set, _| set.split_at(index))
    }

    /// Removes a user added with [`Pages::add_users`] over the same range (or within a
    /// larger one added whole); pages left without users are unpinned and refunded.
    pub(crate) fn remove_users(&self, first: usize, last: usize) {
        if self.dmabuf().is_some() {
            return;
        }
        self.with_set(|set, pinner| {
            let before = set.npinned();
            set.remove_users(first, last, pinner);
            let freed = before - set.npinned();
            if freed != 0 {
                trace::unpin(&self.pin_event(pinner, first, last, freed, set));
            }
        });
    }

    /// Calls `f(index, pfn, count)` for the pinned pages in `first..=last`.
    pub(crate) fn for_each_pinned(
        &self,
        first: usize,
        last: usize,
        f: impl FnMut(usize, &PinnedRun, usize, usize),
    ) {
        self.with_set(|set, _| set.for_each_run(first, last, f));
    }

    /// Copies between `buf` and the span from byte `start_byte` (C's
    /// `iopt_pages_rw_access`): into the memory if `flags.write`, out of it otherwise.
    ///
    /// User memory, from the process that owns it, is copied through its page tables as
    /// the process itself would (`copy_to_user`/`copy_from_user`): nothing is pinned or
    /// migrated, copy-on-write stays, and memory without `struct page` (`VM_PFNMAP`)
    /// works. From another process, one page is pinned for the copy only, for writing only
    /// if written. Otherwise (more pages from another process or a kernel thread, file
    /// memory, `flags.slow_path`) pages that are pinned already (a domain or an access
    /// holds them) are copied through their pins, which works after the owner has exited,
    /// and the others are pinned long-term for the copy only (not charged: those pins do
    /// not outlive the call), as C's slow path does.
    ///
    /// # Errors
    ///
    /// `EINVAL` beyond the span or for dma-buf memory; `EPERM` to write memory mapped
    /// read-only; `EFAULT`; as pinning fails (`EFAULT`, `ENOMEM`).
    pub(crate) fn rw(&self, start_byte: usize, buf: &mut [u8], flags: RwFlags) -> Result {
        let end = start_byte.checked_add(buf.len()).ok_or(EOVERFLOW)?;
        if buf.is_empty() || end > self.npages * PAGE_SIZE {
            return Err(EINVAL);
        }
        if flags.write && !self.writable {
            return Err(EPERM);
        }
        let uptr = match &self.source {
            Source::DmaBuf { .. } => return Err(EINVAL),
            Source::File { .. } => return self.rw_pinned(start_byte, buf, flags.write, false),
            Source::User { uptr } => *uptr,
        };
        let change_mm = flags.slow_path || !self.owned_by_current_mm();
        if !change_mm {
            let user = UserSlice::new(UserPtr::from_addr(uptr + start_byte), buf.len());
            return if flags.write {
                user.writer().write_slice(buf)
            } else {
                user.reader().read_slice(buf)
            };
        }
        let one_page = start_byte / PAGE_SIZE == (end - 1) / PAGE_SIZE;
        self.rw_pinned(start_byte, buf, flags.write, one_page && !flags.kthread)
    }

    /// Whether the current process's address space is the one the pages are charged to
    /// (for user memory, the one they live in).
    fn owned_by_current_mm(&self) -> bool {
        is_current_mm(&self.state.lock().owner.mm)
    }

    /// The body of [`Pages::rw`] through pins: pages pinned already are copied through
    /// them, the others are pinned for the copy, briefly (`short`, no `FOLL_LONGTERM`) or
    /// long-term.
    fn rw_pinned(&self, start_byte: usize, buf: &mut [u8], write: bool, short: bool) -> Result {
        let end = start_byte + buf.len();
        self.with_set(|set, pinner| {
            let first = start_byte / PAGE_SIZE;
            let last = (end - 1) / PAGE_SIZE;
            // The bytes of page `index` in `buf`: (offset in the page, range in `buf`).
            let span = |index: usize| {
                let page_start = index * PAGE_SIZE;
                let from = start_byte.max(page_start);
                let to = end.min(page_start + PAGE_SIZE);
                (from - page_start, from - start_byte..to - start_byte)
            };
            let mut batch = None;
            let mut index = first;
            while index <= last {
                let (offset, range) = span(index);
                if let Some(r) = set.copy(index, offset, &mut buf[range], write) {
                    r?;
                    index += 1;
                    continue;
                }
                let batch = match &mut batch {
                    Some(b) => b,
                    None => batch.insert(PinBatch::new((last - index + 1).min(batch_pages()))?),
                };
                // Pin the pages up to the next pinned one only.
                let mut stop = index + 1;
                while stop <= last && !set.contains(stop) {
                    stop += 1;
                }
                // C's fault point in copying through pages not pinned already.
                if crate::should_fail() {
                    return Err(EINVAL);
                }
                let n = if short {
                    let flags = if write {
                        PinFlags::WRITE
                    } else {
                        PinFlags::NONE
                    };
                    pinner.pin_with(batch, index, stop - index, flags)?
                } else {
                    pinner.pin(batch, index, stop - index)?
                };
                for k in 0..n {
                    let (offset, range) = span(index + k);
                    batch.copy(k, offset, &mut buf[range], write)?;
                }
                batch.release(write);
                index += n;
            }
            Ok(())
        })
    }
}

#[pinned_drop]
impl PinnedDrop for Pages {
    fn drop(self: Pin<&mut Self>) {
        let mut guard = self.state.lock();
        if guard.set.npinned() != 0 {
            // Every user removes itself before the last area goes: this is a bug, but the
            // pins are still released and refunded.
            kernel::warn_on!(true);
            let n = guard.set.release_all();
            guard.owner.uncharge(n);
        }
    }
}
