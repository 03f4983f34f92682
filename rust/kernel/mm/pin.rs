// SPDX-License-Identifier: GPL-2.0

//! Long-term pinning of user and file memory, and its `RLIMIT_MEMLOCK` accounting.
//!
//! A pin (`FOLL_PIN`) keeps a page in memory, at the same physical address, until it is
//! unpinned; DMA and in-kernel users of user memory need that. Two owning types keep every
//! pin accounted for, so that each is released exactly once on every path:
//!
//! - [`PinBatch`]: a buffer of page pointers, filled by [`PinBatch::pin_user`] or
//!   [`PinBatch::pin_file`]. It owns one pin on each page it holds and unpins what is left
//!   when dropped.
//! - [`PinnedRun`]: one pin on each of a run of physically contiguous pages, which is how
//!   long-lived pins are best stored: a 2 MiB huge page is one run, not 512 pointers. A
//!   batch hands its pages over as runs ([`PinBatch::take_runs`]).
//!
//! Charging pinned pages to a limit is separate from pinning, as in C: [`User`] and
//! [`account_locked_vm`] hold the two charges the kernel knows (the user's `locked_vm`, as
//! io_uring and iommufd do, and the mm's `locked_vm`, as VFIO type1 does), and
//! [`pinned_vm_add`] keeps `VmPin` of `/proc/PID/status` in step.
//!
//! C headers: [`include/linux/mm.h`](srctree/include/linux/mm.h),
//! [`include/linux/sched/user.h`](srctree/include/linux/sched/user.h).

use crate::{
    alloc::{flags::GFP_KERNEL_ACCOUNT, KVVec},
    bindings,
    error::to_result,
    fs::File,
    mm::{Mm, MmWithUser},
    page::PAGE_SIZE,
    prelude::*,
    sync::{
        aref::{ARef, AlwaysRefCounted},
        atomic::{Atomic, Relaxed},
    },
    task::Task,
    types::Opaque,
};
use core::ptr::NonNull;

/// How pages are pinned.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PinFlags(u32);

impl PinFlags {
    /// The pin may last indefinitely (`FOLL_LONGTERM`): pages are first moved out of
    /// movable zones and CMA, as DMA needs.
    pub const LONGTERM: Self = Self(bindings::FOLL_LONGTERM);
    /// The pages will be written (`FOLL_WRITE`): copy-on-write is broken first.
    pub const WRITE: Self = Self(bindings::FOLL_WRITE);
    /// A short pin for reading: no flag (the page stays where it is, copy-on-write is kept).
    pub const NONE: Self = Self(0);

    /// Both sets of flags.
    pub const fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// The pfn of a page.
fn pfn_of(page: *mut bindings::page) -> usize {
    // SAFETY: `page_to_pfn` computes with the pointer only; every caller passes a valid page.
    unsafe { bindings::page_to_pfn(page) }
}

/// The `struct page` of `pfn`, a page the caller holds a pin on (so it has one).
pub fn page_of(pfn: usize) -> *mut bindings::page {
    // SAFETY: `pfn_to_page` computes with the number only; every caller passes the pfn of a
    // page it holds a pin on, which has a `struct page`.
    unsafe { bindings::pfn_to_page(pfn) }
}

/// Copies between `buf` and `page` from byte `offset` (at most to the page's end): into
/// the page if `write`, out of it otherwise.
///
/// # Errors
///
/// `EINVAL` if the bytes do not fit in the page.
///
/// # Safety
///
/// `page` must be a valid page the caller holds a pin (or a reference) on for the call.
unsafe fn copy_page(
    page: *mut bindings::page,
    offset: usize,
    buf: &mut [u8],
    write: bool,
) -> Result {
    if offset
        .checked_add(buf.len())
        .is_none_or(|end| end > PAGE_SIZE)
    {
        return Err(EINVAL);
    }
    // SAFETY: By the caller's guarantee `page` stays allocated while mapped.
    let va = unsafe { bindings::kmap_local_page(page) }.cast::<u8>();
    // SAFETY: `va` maps the page's `PAGE_SIZE` bytes and `offset + len <= PAGE_SIZE`. The
    // page is user memory that others may access concurrently; bytes are copied as bytes,
    // as `copy_{to,from}_user` would.
    unsafe {
        let p = va.add(offset);
        if write {
            core::ptr::copy_nonoverlapping(buf.as_ptr(), p, buf.len());
        } else {
            core::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), buf.len());
        }
        bindings::kunmap_local(va.cast());
    }
    Ok(())
}

/// Copies between `buf` and the pinned page of `pfn` from byte `offset` (at most to the
/// page's end): into the page if `write`, out of it otherwise.
///
/// This reaches pages that stay pinned (in a [`PinnedRun`], say) without pinning them
/// again, which works even after the address space they were pinned from is gone.
///
/// # Errors
///
/// `EINVAL` if the bytes do not fit in the page.
///
/// # Safety
///
/// The caller must hold a pin on the page of `pfn` for the duration of the call.
unsafe fn copy_pinned(pfn: usize, offset: usize, buf: &mut [u8], write: bool) -> Result {
    // SAFETY: The caller holds a pin on the page of `pfn`, so it has a valid `struct page`
    // that stays allocated for the call.
    unsafe { copy_page(page_of(pfn), offset, buf, write) }
}

/// Pages pinned by one call or a few, before they are stored or used.
///
/// # Invariants
///
/// `pages` holds valid page pointers, and this batch owns one pin on each of them.
pub struct PinBatch {
    pages: KVVec<*mut bindings::page>,
}

// SAFETY: A batch owns pins; the pages may be unpinned from any thread.
unsafe impl Send for PinBatch {}
// SAFETY: `&PinBatch` only reads page numbers and copies to or from pinned pages, which any
// thread may do.
unsafe impl Sync for PinBatch {}

impl PinBatch {
    /// An empty batch with room for `capacity` pages.
    ///
    /// # Errors
    ///
    /// `ENOMEM`.
    pub fn new(capacity: usize) -> Result<Self> {
        Ok(Self {
            pages: KVVec::with_capacity(capacity.max(1), GFP_KERNEL_ACCOUNT)?,
        })
    }

    /// Pages held.
    pub fn len(&self) -> usize {
        self.pages.len()
    }

    /// Whether the batch holds no page.
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    /// Pages that still fit.
    pub fn room(&self) -> usize {
        self.pages.capacity() - self.pages.len()
    }

    /// Records `n` pages that a pinning call wrote after the held ones.
    ///
    /// # Safety
    ///
    /// The `n` slots after `len()` must hold page pointers on which the caller transfers one
    /// pin each to the batch, and `n <= room()`.
    unsafe fn grow(&mut self, n: usize) {
        let len = self.pages.len();
        // SAFETY: By the caller's guarantee the slots are initialised and fit the capacity;
        // the type invariant holds for them since the batch now owns their pins.
        unsafe { self.pages.inc_len(n) };
        debug_assert!(self.pages.len() == len + n);
    }

    /// Pins up to `npages` pages of user memory from `addr` (page aligned), as many as fit;
    /// returns how many it pinned (at least one).
    ///
    /// `mm` is the address space, or `None` for the current process's, which takes the fast
    /// path (`pin_user_pages_fast`); another address space is pinned under its mmap lock
    /// (`pin_user_pages_remote`).
    ///
    /// # Errors
    ///
    /// `EFAULT` if `addr` is not mapped, or as `pin_user_pages*` fails (`ENOMEM`, `EFAULT`,
    /// `EINVAL` for a zero `npages` or a full batch).
    pub fn pin_user(
        &mut self,
        mm: Option<&MmWithUser>,
        addr: usize,
        npages: usize,
        flags: PinFlags,
    ) -> Result<usize> {
        let n = npages.min(self.room()).min(i32::MAX as usize);
        if n == 0 {
            return Err(EINVAL);
        }
        // SAFETY: Stays within the allocation: `len() <= capacity`.
        let out = unsafe { self.pages.as_mut_ptr().add(self.pages.len()) };
        let rc = match mm {
            // SAFETY: `out` has room for `n` pointers; the kernel checks the user range.
            None => unsafe { bindings::pin_user_pages_fast(addr, n as i32, flags.0, out) as isize },
            Some(mm) => {
                let mut locked: i32 = 1;
                // SAFETY: `mm` has users (`MmWithUser`), so its mmap lock may be taken.
                unsafe { bindings::mmap_read_lock(mm.as_raw()) };
                // SAFETY: The mmap lock is held, as `locked = 1` says; `out` has room for `n`
                // pointers. The call may drop the lock, and then clears `locked`.
                let rc = unsafe {
                    bindings::pin_user_pages_remote(mm.as_raw(), addr, n, flags.0, out, &mut locked)
                };
                if locked != 0 {
                    // SAFETY: The lock is still held: taken above and not dropped.
                    unsafe { bindings::mmap_read_unlock(mm.as_raw()) };
                }
                rc as isize
            }
        };
        if rc < 0 {
            return Err(Error::from_errno(rc as i32));
        }
        if rc == 0 || rc as usize > n {
            return Err(EFAULT);
        }
        // SAFETY: The call wrote `rc <= n` pinned pages after the held ones.
        unsafe { self.grow(rc as usize) };
        Ok(rc as usize)
    }

    /// Pins up to `npages` pages of `file` (a memfd, shmem or hugetlbfs file) from the page
    /// aligned offset `start`, one pin per page even where a folio is larger; returns how
    /// many it pinned (at least one).
    ///
    /// # Errors
    ///
    /// `EINVAL` for another kind of file or a range beyond its end; as
    /// `memfd_pin_folios` fails (`ENOMEM`, `EFAULT`).
    pub fn pin_file(&mut self, file: &File, start: u64, npages: usize) -> Result<usize> {
        let n = npages.min(self.room()).min(u32::MAX as usize);
        if n == 0 {
            return Err(EINVAL);
        }
        let end = start
            .checked_add((n * PAGE_SIZE) as u64 - 1)
            .filter(|&e| e <= i64::MAX as u64)
            .ok_or(EOVERFLOW)?;
        let mut folios: KVVec<*mut bindings::folio> = KVVec::with_capacity(n, GFP_KERNEL_ACCOUNT)?;
        let mut offset: usize = 0;
        // SAFETY: `folios` has room for `n` pointers; `file` is a valid file.
        let nfolios = unsafe {
            bindings::memfd_pin_folios(
                file.as_ptr(),
                start as i64,
                end as i64,
                folios.as_mut_ptr(),
                n as u32,
                &mut offset,
            )
        };
        if nfolios < 0 {
            return Err(Error::from_errno(nfolios as i32));
        }
        if nfolios == 0 || nfolios as usize > n {
            return Err(EFAULT);
        }
        // SAFETY: The call wrote `nfolios <= n` folio pointers, each pinned once.
        unsafe { folios.inc_len(nfolios as usize) };
        let mut first = offset / PAGE_SIZE;
        let mut left = n;
        let mut pinned = 0;
        for i in 0..folios.len() {
            let folio = folios[i];
            // SAFETY: `folio` is pinned, hence valid.
            let nr = unsafe { bindings::folio_nr_pages(folio) } as usize;
            let npin = nr.saturating_sub(first).min(left);
            let added = if npin > 1 {
                // SAFETY: `folio` is pinned; `folio_add_pins` is meant for splitting that pin
                // into one per page.
                to_result(unsafe { bindings::folio_add_pins(folio, (npin - 1) as u32) })
            } else {
                Ok(())
            };
            if npin == 0 || added.is_err() {
                // Release the pins not handed to the batch: this folio's and the rest.
                for &f in &folios[i..] {
                    // SAFETY: Each of these folios holds one pin from `memfd_pin_folios`
                    // that nobody else owns.
                    unsafe { bindings::unpin_folio(f) };
                }
                return if pinned > 0 {
                    Ok(pinned)
                } else {
                    added.and(Err(EFAULT))
                };
            }
            for k in 0..npin {
                // SAFETY: `first + k < nr`, a page of this folio.
                let page = unsafe { bindings::folio_page(folio, first + k) };
                // The batch has room: at most `n <= room()` pages are added in all.
                let _ = self.pages.push_within_capacity(page);
            }
            pinned += npin;
            left -= npin;
            first = 0;
        }
        Ok(pinned)
    }

    /// The pfn of page `i`.
    pub fn pfn(&self, i: usize) -> Option<usize> {
        self.pages.get(i).map(|&p| pfn_of(p))
    }

    /// Copies between `buf` and page `i` from byte `offset` (at most to the page's end):
    /// into the page if `write`, out of it otherwise.
    ///
    /// # Errors
    ///
    /// `EINVAL` if there is no page `i` or the bytes do not fit in it.
    pub fn copy(&self, i: usize, offset: usize, buf: &mut [u8], write: bool) -> Result {
        let &page = self.pages.get(i).ok_or(EINVAL)?;
        // SAFETY: The batch holds a pin on `page` (type invariant) while `self` is borrowed.
        unsafe { copy_page(page, offset, buf, write) }
    }

    /// Unpins every page, marking them dirty if `dirty` (after writing to them).
    pub fn release(&mut self, dirty: bool) {
        let n = self.pages.len();
        if n == 0 {
            return;
        }
        // SAFETY: The batch owns one pin on each of its `n` pages (type invariant); their
        // ownership ends here and the length is reset below.
        unsafe { bindings::unpin_user_pages_dirty_lock(self.pages.as_mut_ptr(), n, dirty) };
        // The pins are released: forget the pointers.
        self.pages.clear();
    }

    /// Hands every page over as maximal runs of contiguous pfns, in order, to `f`.
    ///
    /// The batch is empty afterwards. If `f` fails, the run it was given is its to release
    /// (dropping it unpins it) and the pages after it are unpinned here.
    ///
    /// # Errors
    ///
    /// The first error of `f`.
    pub fn take_runs(&mut self, dirty: bool, mut f: impl FnMut(PinnedRun) -> Result) -> Result {
        let n = self.pages.len();
        let mut i = 0;
        let mut ret = Ok(());
        while i < n {
            let pfn = pfn_of(self.pages[i]);
            let mut j = i + 1;
            while j < n && j - i < PinnedRun::MAX_PAGES && pfn_of(self.pages[j]) == pfn + (j - i) {
                j += 1;
            }
            // INVARIANT: The batch owned one pin on each of pages `i..j`, which are the
            // contiguous pfns from `pfn`; they go to the run (and leave the batch below).
            let run = PinnedRun {
                pfn,
                bits: (j - i) as u32 | if dirty { PinnedRun::DIRTY } else { 0 },
            };
            i = j;
            if let Err(e) = f(run) {
                ret = Err(e);
                break;
            }
        }
        if i < n {
            // SAFETY: Pages `i..n` were not handed over; the batch still owns their pins.
            unsafe { bindings::unpin_user_pages(self.pages.as_mut_ptr().add(i), n - i) };
        }
        // Every pin was handed over or released: forget the pointers.
        self.pages.clear();
        ret
    }
}

impl Drop for PinBatch {
    fn drop(&mut self) {
        self.release(false);
    }
}

/// One pin on each page of a run of physically contiguous pages.
///
/// Dropping it unpins them (marking them dirty if the run was made dirty). It takes
/// 12 bytes, aligned to 4, so that a store of runs can add its own bookkeeping (the
/// run's index, a count of users) in a 24-byte entry.
///
/// # Invariants
///
/// The run owns one pin on each of the `bits & COUNT` pages from pfn `pfn`; `bits & DIRTY`
/// says whether they are unpinned dirty.
#[repr(C, packed(4))]
pub struct PinnedRun {
    pfn: usize,
    bits: u32,
}

impl PinnedRun {
    /// The flag of `bits` that marks a dirty run.
    const DIRTY: u32 = 1 << 31;
    /// The mask of `bits` that holds the count.
    const COUNT: u32 = Self::DIRTY - 1;

    /// The most pages a run holds.
    pub const MAX_PAGES: usize = Self::COUNT as usize;

    /// The first pfn.
    pub fn pfn(&self) -> usize {
        self.pfn
    }

    /// Pages in the run.
    pub fn count(&self) -> usize {
        (self.bits & Self::COUNT) as usize
    }

    /// Whether the pages are unpinned dirty.
    pub fn dirty(&self) -> bool {
        self.bits & Self::DIRTY != 0
    }

    /// Splits the run before its page `at`: keeps the pages before it and returns the
    /// others, as a run of their own. The pins are the same; only who owns them changes.
    ///
    /// # Errors
    ///
    /// `EINVAL` unless `at` is within the run, after its first page.
    pub fn split_off(&mut self, at: usize) -> Result<PinnedRun> {
        let count = self.count();
        if at == 0 || at >= count {
            return Err(EINVAL);
        }
        let flags = self.bits & Self::DIRTY;
        // INVARIANT: The pins of pages `at..count` go to the tail, the others stay.
        let tail = PinnedRun {
            pfn: self.pfn + at,
            bits: (count - at) as u32 | flags,
        };
        self.bits = at as u32 | flags;
        Ok(tail)
    }

    /// Copies between `buf` and the run's page `page` from byte `offset` (at most to the
    /// page's end): into the page if `write`, out of it otherwise.
    ///
    /// # Errors
    ///
    /// `EINVAL` if the run has no page `page` or the bytes do not fit in it.
    pub fn copy(&self, page: usize, offset: usize, buf: &mut [u8], write: bool) -> Result {
        if page >= self.count() {
            return Err(EINVAL);
        }
        // SAFETY: The run holds a pin on each of its pages (type invariant) while `self` is
        // borrowed.
        unsafe { copy_pinned(self.pfn + page, offset, buf, write) }
    }
}

impl Drop for PinnedRun {
    fn drop(&mut self) {
        let count = self.count();
        if count == 0 {
            return;
        }
        // SAFETY: The run owns one pin on each of its pages (type invariant); they are
        // physically contiguous, which `unpin_user_page_range_dirty_lock` expects.
        unsafe {
            bindings::unpin_user_page_range_dirty_lock(page_of(self.pfn), count, self.dirty())
        };
    }
}

/// A user (`struct user_struct`): what `RLIMIT_MEMLOCK` charges of a UID accumulate on.
///
/// # Invariants
///
/// Instances are always reference counted (`get_uid`, `free_uid`).
#[repr(transparent)]
pub struct User(Opaque<bindings::user_struct>);

// SAFETY: The user struct is reference counted and its fields used here are atomic.
unsafe impl Send for User {}
// SAFETY: As above.
unsafe impl Sync for User {}

// SAFETY: `get_uid` and `free_uid` maintain the count; the struct is freed at zero.
unsafe impl AlwaysRefCounted for User {
    fn inc_ref(&self) {
        // SAFETY: The existence of `&self` means the count is not zero.
        unsafe { bindings::get_uid(self.0.get()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives up one reference.
        unsafe { bindings::free_uid(obj.cast().as_ptr()) };
    }
}

impl User {
    /// The user of the current task's credentials.
    pub fn current() -> ARef<Self> {
        // SAFETY: `current_user()` is valid while the current task's credentials are, which
        // outlives this call; a new reference is taken right away.
        let user = unsafe { &*bindings::current_user().cast::<User>() };
        ARef::from(user)
    }

    /// The user's `locked_vm` counter.
    fn locked_vm(&self) -> &Atomic<isize> {
        // SAFETY: `locked_vm` is an `atomic_long_t`, whose counter is a `long`, only used
        // atomically; it lives as long as `self`.
        unsafe { Atomic::from_ptr((&raw mut (*self.0.get()).locked_vm.counter).cast()) }
    }

    /// Charges `npages` pinned pages to the user, up to `limit` pages in all.
    ///
    /// # Errors
    ///
    /// `ENOMEM` if the charge would pass `limit`; nothing is charged then.
    pub fn charge_locked_vm(&self, npages: usize, limit: usize) -> Result {
        let counter = self.locked_vm();
        let mut cur = counter.load(Relaxed);
        loop {
            let new = (cur as usize).checked_add(npages).ok_or(ENOMEM)?;
            if new > limit {
                return Err(ENOMEM);
            }
            match counter.cmpxchg(cur, new as isize, Relaxed) {
                Ok(_) => return Ok(()),
                Err(seen) => cur = seen,
            }
        }
    }

    /// Refunds `npages` charged with [`User::charge_locked_vm`].
    pub fn uncharge_locked_vm(&self, npages: usize) {
        let old = self.locked_vm().fetch_sub(npages as isize, Relaxed);
        crate::warn_on!((old as usize) < npages);
    }

    /// Pages charged to the user.
    pub fn locked_vm_pages(&self) -> usize {
        self.locked_vm().load(Relaxed) as usize
    }
}

/// For KUnit tests: anonymous, private, read-write user memory in an address space of the
/// running test's thread, whose user address [`PinBatch::pin_user`] pins and user-copy
/// functions reach.
///
/// KUnit makes the address space on demand; dropping this leaves and releases it (with the
/// memory), on the thread that made it. Pins taken on the memory stay valid after that (a
/// pin holds its page), but should be dropped first, as a test's user would unpin before
/// unmapping.
///
/// # Invariants
///
/// The test's thread has an address space, attached for this object, which is its only
/// user and which is released on the same thread (the type is neither `Send` nor `Sync`).
#[cfg(CONFIG_KUNIT = "y")]
pub struct KunitUserMemory {
    addr: usize,
    _not_send: core::marker::PhantomData<*mut ()>,
}

#[cfg(CONFIG_KUNIT = "y")]
impl KunitUserMemory {
    /// `len` bytes of user memory in a new address space of the test's thread.
    ///
    /// # Errors
    ///
    /// `EINVAL` outside a KUnit test or if the thread has an address space already (one
    /// [`KunitUserMemory`] at a time); `ENOMEM` if the memory could not be mapped.
    pub fn new(len: usize) -> Result<Self> {
        // SAFETY: The helper maps only into an address space it has KUnit make for the
        // running test's thread, and returns 0 outside a test or when the thread has one.
        let addr = unsafe { bindings::kunit_vm_mmap_anon(len) };
        match addr {
            0 => Err(EINVAL),
            // `vm_mmap()` returns a negative errno as an address; the address space stays
            // attached: release it.
            a if a > usize::MAX - 4095 => {
                // SAFETY: The thread's address space is the one just made for the test.
                unsafe { bindings::kunit_release_mm() };
                Err(ENOMEM)
            }
            // INVARIANT: The helper attached the address space for this mapping.
            a => Ok(Self {
                addr: a,
                _not_send: core::marker::PhantomData,
            }),
        }
    }

    /// The user address of the memory.
    pub fn addr(&self) -> usize {
        self.addr
    }
}

#[cfg(CONFIG_KUNIT = "y")]
impl Drop for KunitUserMemory {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the thread's address space was made for this
        // object, which is dropped on the same thread; nothing else uses it.
        unsafe { bindings::kunit_release_mm() };
    }
}

/// The `RLIMIT_MEMLOCK` of `task`, in pages.
pub fn memlock_limit_pages(task: &Task) -> usize {
    // SAFETY: `task` is valid; `task_rlimit` reads its signal struct, which lives as long as
    // the task.
    let bytes = unsafe { bindings::task_rlimit(task.as_ptr(), bindings::RLIMIT_MEMLOCK) };
    bytes / PAGE_SIZE
}

/// Charges (`inc`) or refunds `npages` pages to `mm->locked_vm`, against the
/// `RLIMIT_MEMLOCK` of `task` (as VFIO type1 does) unless `bypass_limit`, under the mm's
/// write lock.
///
/// # Errors
///
/// `ENOMEM` if a charge would pass the limit.
pub fn account_locked_vm(
    mm: &MmWithUser,
    npages: usize,
    inc: bool,
    task: &Task,
    bypass_limit: bool,
) -> Result {
    // SAFETY: `mm` has users, so its mmap lock may be taken.
    unsafe { bindings::mmap_write_lock(mm.as_raw()) };
    // SAFETY: The mmap write lock is held, as `__account_locked_vm` requires; `task` is valid.
    let rc = unsafe {
        bindings::__account_locked_vm(mm.as_raw(), npages, inc, task.as_ptr(), bypass_limit)
    };
    // SAFETY: Taken above.
    unsafe { bindings::mmap_write_unlock(mm.as_raw()) };
    to_result(rc)
}

/// Adds `delta` pages to `mm->pinned_vm` (`VmPin` in `/proc/PID/status`).
pub fn pinned_vm_add(mm: &Mm, delta: isize) {
    // SAFETY: `pinned_vm` is an `atomic64_t` only used atomically; it lives as long as the
    // mm struct, which `mm` keeps (`mmgrab`).
    let counter: &Atomic<i64> =
        unsafe { Atomic::from_ptr(&raw mut (*mm.as_raw()).__bindgen_anon_1.pinned_vm.counter) };
    counter.add(delta as i64, Relaxed);
}
