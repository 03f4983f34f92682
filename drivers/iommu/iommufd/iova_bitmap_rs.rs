// SPDX-License-Identifier: GPL-2.0

//! iova_bitmap: the user dirty bitmap that IOMMU drivers fill while reading their dirty bits.
//!
//! Built into the kernel when an IOMMU driver with dirty tracking is (CONFIG_IOMMUFD_DRIVER);
//! `iova_bitmap_exports.c` exports the functions with the C signatures of
//! `include/linux/iova_bitmap.h`.
//!
//! The bitmap lives in user memory: an array of `u64` words, one bit per `page_size` of IOVA,
//! bit 0 of word 0 for `iova`. Drivers record dirty ranges with `iova_bitmap_set()`, which
//! must write those bits from kernel context, so the user pages are pinned and written
//! through a temporary kernel mapping. At most one page of page pointers (512 pages of bitmap,
//! 2^24 bits on x86_64 and arm64 with 4 KiB pages) is pinned at a time: the *window*. A set
//! outside the window moves it.
//!
//! # Invariants
//!
//! - `pages[..npages]` are pinned pages (`pin_user_pages_fast`) holding the bitmap words from
//!   `window_word`; they are unpinned when the window moves and when the bitmap is freed.
//! - `pages` has room for [`MAX_PAGES`] entries and is never reallocated; its length is
//!   `npages` (it is not filled ahead: a read that finds nothing dirty writes nothing).

#![allow(clippy::missing_safety_doc)]

use kernel::{bindings, ffi, page::PAGE_SIZE, prelude::*};

/// The most bitmap pages pinned at once: one page of `struct page *`, as in C.
const MAX_PAGES: usize = PAGE_SIZE / core::mem::size_of::<*mut bindings::page>();
/// Bits in one page of bitmap.
const BITS_PER_PAGE: usize = PAGE_SIZE * 8;
/// Bits in one bitmap word.
const BITS_PER_WORD: usize = 64;

/// A dirty bitmap of `length` bytes of IOVA from `iova`, in user memory at `user`. C sees
/// it as the opaque `struct iova_bitmap`: pointers are cast between the two at the exports.
pub struct IovaBitmap {
    /// User address of word 0.
    user: usize,
    /// First IOVA, represented by bit 0 of word 0.
    iova: usize,
    /// Bytes of IOVA the bitmap covers.
    length: usize,
    /// log2 of the IOVA bytes one bit stands for.
    pgshift: u32,
    /// Number of words of the whole bitmap.
    total_words: usize,
    /// The first word of the window.
    window_word: usize,
    /// The first IOVA of the window (bit 0 of `window_word`).
    window_iova: usize,
    /// Bytes of IOVA the window covers; 0 when nothing is pinned.
    window_length: usize,
    /// Offset of `window_word` in the first pinned page.
    pgoff: usize,
    /// Pinned pages of the window.
    npages: usize,
    /// The pinned pages, `npages` of them; room for `MAX_PAGES`.
    pages: KVec<*mut bindings::page>,
}

impl IovaBitmap {
    /// Word index of the bit for byte `offset` of IOVA (from `self.iova`).
    fn word_of(&self, offset: usize) -> usize {
        (offset >> self.pgshift) / BITS_PER_WORD
    }

    /// Bytes of IOVA that `words` words stand for.
    fn iova_of_words(&self, words: usize) -> usize {
        // Wraps only for a bitmap whose range ends at the top of the IOVA space.
        words.wrapping_mul(BITS_PER_WORD).wrapping_shl(self.pgshift)
    }

    /// Unpins the window.
    fn unpin(&mut self) {
        if self.npages != 0 {
            // SAFETY: By the type invariants, `pages[..npages]` were pinned with
            // `pin_user_pages_fast` and are unpinned exactly once, here.
            unsafe { bindings::unpin_user_pages(self.pages.as_mut_ptr(), self.npages) };
            self.pages.clear();
            self.npages = 0;
            self.window_length = 0;
        }
    }

    /// Moves the window to start at the word holding the bit of `iova`, and pins it.
    fn move_window(&mut self, iova: usize) -> Result {
        let word = self.word_of(iova.wrapping_sub(self.iova));
        if iova < self.iova || word >= self.total_words {
            return Err(EINVAL);
        }
        self.unpin();
        let addr = self.user + word * 8;
        let pgoff = addr % PAGE_SIZE;
        let bytes = (self.total_words - word) * 8;
        let npages = (pgoff + bytes).div_ceil(PAGE_SIZE).min(MAX_PAGES);
        // SAFETY: `pages` is empty (unpinned above) with room for `MAX_PAGES >= npages`
        // pointers; the function only touches user memory through the user address, which
        // it validates.
        let ret = unsafe {
            bindings::pin_user_pages_fast(
                addr,
                npages as ffi::c_int,
                bindings::FOLL_WRITE,
                self.pages.as_mut_ptr(),
            )
        };
        if ret <= 0 {
            return Err(EFAULT);
        }
        // SAFETY: `ret <= npages` entries were written, within the room of `pages`; they
        // are plain pointers.
        unsafe { self.pages.inc_len(ret as usize) };
        // INVARIANT: `ret` pages were pinned into `pages`, its length.
        self.npages = ret as usize;
        self.window_word = word;
        self.window_iova = self.iova.wrapping_add(self.iova_of_words(word));
        self.pgoff = pgoff;
        let words = (self.total_words - word).min((self.npages * PAGE_SIZE - pgoff).div_ceil(8));
        let end = self.iova.wrapping_add(self.length.wrapping_sub(1));
        let last = self
            .window_iova
            .saturating_add(self.iova_of_words(words) - 1)
            .min(end);
        self.window_length = last - self.window_iova + 1;
        Ok(())
    }

    /// Whether `iova` lies in the window.
    fn in_window(&self, iova: usize) -> bool {
        self.npages != 0 && iova >= self.window_iova && iova - self.window_iova < self.window_length
    }

    /// Sets the bits of `[iova, iova + length)` that lie inside the bitmap's range.
    ///
    /// A driver reports a whole IOPTE as dirty, and a huge IOPTE may start before the
    /// range the bitmap was made for or end after it: only the part inside has bits (C's
    /// `iova_bitmap_set` drops such a report whole when it starts before the range).
    fn set(&mut self, iova: usize, length: usize) {
        if length == 0 {
            return;
        }
        let bitmap_last = self.iova.wrapping_add(self.length.wrapping_sub(1));
        let mut cur = iova.max(self.iova);
        let last = iova.saturating_add(length - 1).min(bitmap_last);
        // Where the window was last moved to because it ran out of pinned pages.
        let mut moved_to = None;
        while cur <= last {
            if !self.in_window(cur) && self.move_window(cur).is_err() {
                return;
            }
            let upto = last.min(self.window_iova + (self.window_length - 1));
            let base_bit = self.pgoff * 8;
            let mut bit = ((cur - self.window_iova) >> self.pgshift) + base_bit;
            let first_bit = bit;
            let last_bit = ((upto - self.window_iova) >> self.pgshift) + base_bit;
            while bit <= last_bit {
                let page = bit / BITS_PER_PAGE;
                if page >= self.npages {
                    // The last word of the window straddles the end of the pinned pages:
                    // the window moves there.
                    break;
                }
                let offset = bit % BITS_PER_PAGE;
                let nbits = (BITS_PER_PAGE - offset).min(last_bit - bit + 1);
                // SAFETY: `pages[page]` is pinned (`page < npages`), so it may be mapped.
                let kaddr = unsafe { bindings::kmap_local_page(self.pages[page]) };
                // SAFETY: `kaddr` maps one page, of `BITS_PER_PAGE` bits, and
                // `offset + nbits <= BITS_PER_PAGE`. The page is aligned for `c_ulong`.
                unsafe { bindings::__bitmap_set(kaddr.cast(), offset as u32, nbits as i32) };
                // SAFETY: `kaddr` was mapped just above, on this thread.
                unsafe { bindings::kunmap_local(kaddr) };
                bit += nbits;
            }
            if bit <= last_bit {
                if bit == first_bit && moved_to == Some(cur) {
                    // A window that starts at this word holds none of its bits (a bitmap
                    // that is not word aligned ends inside a word at the end of its
                    // memory): another would start at the same word again.
                    return;
                }
                // Go on from the first bit not set, in a new window.
                let next = self.window_iova + ((bit - base_bit) << self.pgshift);
                self.unpin();
                cur = next;
                moved_to = Some(cur);
                continue;
            }
            if upto == last {
                return;
            }
            cur = upto + 1;
        }
    }
}

impl Drop for IovaBitmap {
    fn drop(&mut self) {
        self.unpin();
    }
}

/// Allocates a bitmap for `length` bytes of IOVA from `iova`, one bit per `page_size`.
///
/// # Safety
///
/// Called from C per `include/linux/iova_bitmap.h`: `page_size` is a power of two; a zero
/// `length` covers the IOVA space from `iova` to its end, as in C. `data` is a user
/// pointer (checked when used).
#[export]
pub unsafe extern "C" fn iova_bitmap_alloc(
    iova: ffi::c_ulong,
    length: usize,
    page_size: ffi::c_ulong,
    data: *mut u64,
) -> *mut bindings::iova_bitmap {
    if page_size == 0 {
        // SAFETY: `ERR_PTR` only encodes the errno.
        return unsafe { bindings::ERR_PTR(EINVAL.to_errno() as isize) }.cast();
    }
    let pgshift = page_size.trailing_zeros();
    // As in C, a zero `length` stands for the whole space from `iova` (its last byte wraps).
    let total_words = (length.wrapping_sub(1) >> pgshift) / BITS_PER_WORD + 1;
    let alloc = || -> Result<KBox<IovaBitmap>> {
        let pages = KVec::with_capacity(MAX_PAGES, GFP_KERNEL)?;
        Ok(KBox::new(
            IovaBitmap {
                user: data as usize,
                iova,
                length,
                pgshift,
                total_words,
                window_word: 0,
                window_iova: iova,
                window_length: 0,
                pgoff: 0,
                npages: 0,
                pages,
            },
            GFP_KERNEL,
        )?)
    };
    match alloc() {
        Ok(bitmap) => KBox::into_raw(bitmap).cast(),
        // SAFETY: `ERR_PTR` only encodes the errno.
        Err(e) => unsafe { bindings::ERR_PTR(e.to_errno() as isize) }.cast(),
    }
}

/// Frees a bitmap from [`iova_bitmap_alloc`], unpinning what it pinned.
///
/// # Safety
///
/// `bitmap` came from [`iova_bitmap_alloc`] and is not used afterwards.
#[export]
pub unsafe extern "C" fn iova_bitmap_free(bitmap: *mut bindings::iova_bitmap) {
    // SAFETY: By the function's contract, `bitmap` came from `KBox::into_raw` of an
    // `IovaBitmap` and is given back once.
    drop(unsafe { KBox::from_raw(bitmap.cast::<IovaBitmap>()) });
}

/// Calls `f` over the bitmap's whole range; `f` records dirty ranges with `iova_bitmap_set`.
///
/// # Safety
///
/// `bitmap` came from [`iova_bitmap_alloc`]; `f` and `opaque` are a valid callback and its
/// argument. A missing callback is `EINVAL`.
#[export]
pub unsafe extern "C" fn iova_bitmap_for_each(
    bitmap: *mut bindings::iova_bitmap,
    opaque: *mut ffi::c_void,
    f: bindings::iova_bitmap_fn_t,
) -> ffi::c_int {
    let Some(f) = f else {
        return EINVAL.to_errno();
    };
    // SAFETY: By the contract, `bitmap` is an `IovaBitmap`; the fields are read before `f`
    // runs.
    let (iova, length) = unsafe {
        let b = &*bitmap.cast::<IovaBitmap>();
        (b.iova, b.length)
    };
    // SAFETY: By the contract, `f` may be called with these arguments.
    unsafe { f(bitmap, iova, length, opaque) }
}

/// Records `[iova, iova + length)` as dirty.
///
/// # Safety
///
/// `bitmap` came from [`iova_bitmap_alloc`] and no other thread uses it meanwhile.
#[export]
pub unsafe extern "C" fn iova_bitmap_set(
    bitmap: *mut bindings::iova_bitmap,
    iova: ffi::c_ulong,
    length: usize,
) {
    // SAFETY: By the contract, `bitmap` is an `IovaBitmap` used by this thread only.
    let bitmap = unsafe { &mut *bitmap.cast::<IovaBitmap>() };
    bitmap.set(iova, length);
}
