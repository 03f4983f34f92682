// SPDX-License-Identifier: GPL-2.0

//! Read-write semaphores.
//!
//! A [`RwSemaphore`] protects data that many threads read at once and few change: any
//! number of [`ReadGuard`]s, or one [`WriteGuard`], exist at a time. Both sleep to wait,
//! so neither may be taken in atomic context. Lockdep tracks them as it tracks the C
//! `rw_semaphore`, with one class per [`new_rwsem!`] call site.
//!
//! C header: [`include/linux/rwsem.h`](srctree/include/linux/rwsem.h)

use super::LockClassKey;
use crate::{
    prelude::*,
    str::CStr,
    types::{NotThreadSafe, Opaque},
};
use core::{
    cell::UnsafeCell,
    marker::PhantomPinned,
    ops::{Deref, DerefMut},
};
use pin_init::Wrapper;

/// Creates a [`RwSemaphore`] initialiser with the given name and a new lock class.
///
/// It uses the name if one is given, otherwise it generates one based on the file name and
/// line number.
#[macro_export]
macro_rules! new_rwsem {
    ($inner:expr $(, $name:literal)? $(,)?) => {
        $crate::sync::rwsem::RwSemaphore::new(
            $inner, $crate::optional_name!($($name)?), $crate::static_lock_class!())
    };
}
pub use new_rwsem;

/// A read-write semaphore protecting a `T`: the kernel's `struct rw_semaphore`.
///
/// # Examples
///
/// ```
/// use kernel::sync::rwsem::{new_rwsem, RwSemaphore};
///
/// fn total(list: &RwSemaphore<KVec<u32>>) -> u32 {
///     // Readers share the data.
///     list.read().iter().sum()
/// }
///
/// fn add(list: &RwSemaphore<KVec<u32>>, n: u32) -> Result {
///     // A writer has it alone.
///     list.write().push(n, GFP_KERNEL)
/// }
///
/// let list = KBox::pin_init(new_rwsem!(KVec::new()), GFP_KERNEL)?;
/// add(&list, 1)?;
/// add(&list, 2)?;
/// assert_eq!(total(&list), 3);
/// # Ok::<(), Error>(())
/// ```
///
/// # Invariants
///
/// `sem` is an initialised `rw_semaphore`. `data` is only reached through a guard: shared
/// while some [`ReadGuard`] holds `sem` for reading, exclusively while a [`WriteGuard`] holds
/// it for writing.
#[pin_data]
pub struct RwSemaphore<T: ?Sized> {
    #[pin]
    sem: Opaque<bindings::rw_semaphore>,
    /// The C `rw_semaphore` may not move once initialised.
    #[pin]
    _pin: PhantomPinned,
    #[pin]
    data: UnsafeCell<T>,
}

// SAFETY: The semaphore may move to another thread with its data if the data may.
unsafe impl<T: ?Sized + Send> Send for RwSemaphore<T> {}

// SAFETY: Threads reach `data` only through guards (type invariant): readers share `&T` (so
// `T: Sync`) and a writer, on whatever thread it runs, gets `&mut T` (so `T: Send`).
unsafe impl<T: ?Sized + Send + Sync> Sync for RwSemaphore<T> {}

impl<T> RwSemaphore<T> {
    /// A new semaphore initialiser for `t`, with lockdep class `key` named `name`; see
    /// [`new_rwsem!`].
    pub fn new(
        t: impl PinInit<T>,
        name: &'static CStr,
        key: Pin<&'static LockClassKey>,
    ) -> impl PinInit<Self> {
        pin_init!(Self {
            data <- UnsafeCell::pin_init(t),
            _pin: PhantomPinned,
            // SAFETY: `slot` is valid while the closure runs; `name` and `key` are static, so
            // they outlive the semaphore.
            sem <- Opaque::ffi_init(|slot| unsafe {
                bindings::__init_rwsem(slot, name.as_char_ptr(), key.as_ptr())
            }),
        })
    }
}

impl<T: ?Sized> RwSemaphore<T> {
    /// Takes the semaphore for reading, sleeping while a writer holds it.
    pub fn read(&self) -> ReadGuard<'_, T> {
        // SAFETY: `sem` is initialised (type invariant); the guard releases it.
        unsafe { bindings::down_read(self.sem.get()) };
        // INVARIANT: `sem` is held for reading until the guard drops.
        ReadGuard {
            sem: self,
            _not_send: NotThreadSafe,
        }
    }

    /// Takes the semaphore for writing, sleeping while anyone else holds it.
    pub fn write(&self) -> WriteGuard<'_, T> {
        // SAFETY: `sem` is initialised (type invariant); the guard releases it.
        unsafe { bindings::down_write(self.sem.get()) };
        // INVARIANT: `sem` is held for writing until the guard drops.
        WriteGuard {
            sem: self,
            _not_send: NotThreadSafe,
        }
    }
}

/// Shared access to the data of a [`RwSemaphore`], which it holds for reading.
///
/// It is released on the thread that took it (`!Send`), as lockdep requires.
///
/// # Invariants
///
/// `sem.sem` is held for reading by this guard.
pub struct ReadGuard<'a, T: ?Sized> {
    sem: &'a RwSemaphore<T>,
    _not_send: NotThreadSafe,
}

impl<T: ?Sized> Deref for ReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: The semaphore is held for reading (type invariant): no writer changes
        // `data` meanwhile, and other holders only read it.
        unsafe { &*self.sem.data.get() }
    }
}

impl<T: ?Sized> Drop for ReadGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: This guard holds the semaphore for reading (type invariant), once.
        unsafe { bindings::up_read(self.sem.sem.get()) };
    }
}

/// Exclusive access to the data of a [`RwSemaphore`], which it holds for writing.
///
/// # Invariants
///
/// `sem.sem` is held for writing by this guard.
pub struct WriteGuard<'a, T: ?Sized> {
    sem: &'a RwSemaphore<T>,
    _not_send: NotThreadSafe,
}

impl<T: ?Sized> Deref for WriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: The semaphore is held for writing (type invariant): nobody else reaches
        // `data` meanwhile.
        unsafe { &*self.sem.data.get() }
    }
}

impl<T: ?Sized> DerefMut for WriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: As in `deref`; `&mut self` makes this the only reference through the guard.
        unsafe { &mut *self.sem.data.get() }
    }
}

impl<T: ?Sized> Drop for WriteGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: This guard holds the semaphore for writing (type invariant), once.
        unsafe { bindings::up_write(self.sem.sem.get()) };
    }
}

#[macros::kunit_tests(rust_kernel_rwsem)]
mod tests {
    use super::*;
    use crate::sync::{new_mutex, Arc, Completion};

    /// Runs `f` on a work queue's thread.
    fn spawn(f: impl FnOnce() + Send + 'static) -> Result {
        crate::workqueue::system_long()
            .try_spawn(GFP_KERNEL, f)
            .map_err(|_| ENOMEM)
    }

    #[test]
    fn readers_share() -> Result {
        let sem = Arc::pin_init(new_rwsem!(5u32), GFP_KERNEL)?;
        let read = Arc::pin_init(Completion::new(), GFP_KERNEL)?;
        let reader = sem.read();
        let (s, r) = (sem.clone(), read.clone());
        spawn(move || {
            let value = *s.read();
            if value == 5 {
                r.complete_all();
            }
        })?;
        // The other thread reads while this one holds the semaphore for reading: were
        // readers exclusive, this would wait for ever (and KUnit's timeout would fail it).
        read.wait_for_completion();
        assert_eq!(*reader, 5);
        drop(reader);
        *sem.write() += 1;
        assert_eq!(*sem.read(), 6);
        Ok(())
    }

    #[test]
    fn a_reader_holds_off_a_writer() -> Result {
        // Lockdep sees the nesting order `sem` -> `inner` in the writer only.
        let sem = Arc::pin_init(new_rwsem!(0u32), GFP_KERNEL)?;
        let inner = Arc::pin_init(new_mutex!(()), GFP_KERNEL)?;
        let started = Arc::pin_init(Completion::new(), GFP_KERNEL)?;
        let reader = sem.read();
        let (s, st, i) = (sem.clone(), started.clone(), inner.clone());
        spawn(move || {
            st.complete_all();
            let mut w = s.write();
            let _g = i.lock();
            *w = 7;
        })?;
        started.wait_for_completion();
        crate::time::delay::fsleep(crate::time::Delta::from_millis(10));
        // The writer has had time to try, and cannot have written: this thread still reads.
        assert_eq!(*reader, 0);
        drop(reader);
        // Now it gets the semaphore.
        while *sem.read() != 7 {
            crate::time::delay::fsleep(crate::time::Delta::from_millis(1));
        }
        Ok(())
    }
}
