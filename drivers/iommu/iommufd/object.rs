// SPDX-License-Identifier: GPL-2.0

//! The object table of one open `/dev/iommu`.
//!
//! Every object the user creates (an IOAS today; devices, HWPTs and the rest later) gets an id
//! in a per-file table. Ids are allocated as the C iommufd allocates them: 31 bit, the lowest
//! free one, starting at 1.
//!
//! # Lifetime of an object
//!
//! 1. An ioctl *reserves* an id ([`ObjectTable::reserve`]). The id is taken, but a lookup does
//!    not find it: a half-built object is never visible.
//! 2. The ioctl builds the object and does everything that may fail: it allocates the table
//!    entry ([`Reservation::prepare`]) and writes the id back to the user. On failure,
//!    dropping the [`Reservation`] (or the [`Prepared`]) frees the id again.
//! 3. [`Prepared::publish`], which cannot fail, publishes the object. From then on only
//!    `IOMMU_DESTROY` or closing the file removes it.
//!
//! Each object has a `users` count ([`ObjectHeader`]): 1 for the table, plus 1 for every
//! holder of an [`ObjRef`] (an ioctl working on it; later, other objects that depend on it).
//! Destroying an object succeeds only when the table is its sole user; otherwise it fails with
//! `EBUSY`, as in C. The memory itself is reference counted with [`Arc`], so a late holder can
//! never see freed memory whatever the counts say.
//!
//! # Locking
//!
//! The table's xarray spinlock protects the ids and the `users` transitions to and from
//! "only the table": a lookup increments `users` and destroy tests it under that lock, so
//! the two never race. Objects are dropped after the lock is released, since tearing one
//! down may sleep.

use core::ops::Deref;
use kernel::{
    alloc::flags::GFP_KERNEL_ACCOUNT,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, Refcount,
    },
    time::{delay::fsleep, Delta, Instant, Monotonic},
    xarray::{AllocKind, XArray},
};

pub(crate) use crate::kinds::{object_type, ObjectKind, ObjectType};

/// The largest id (`xa_limit_31b`).
const ID_MAX: u32 = i32::MAX as u32;

/// What every object has: its `users` count.
pub(crate) struct ObjectHeader {
    users: Refcount,
}

impl ObjectHeader {
    /// A header for a new object, whose only user will be the table.
    pub(crate) fn new() -> Self {
        Self {
            users: Refcount::new(1),
        }
    }

    /// Drops the table's user if it is the only one left; returns whether it did.
    fn take_last_user(&self) -> bool {
        self.users.as_atomic().cmpxchg(1, 0, Relaxed).is_ok()
    }

    /// Adds a long-term user: the in-kernel owner of an object that user space cannot
    /// destroy while it is used (an access's driver).
    pub(crate) fn add_user(&self) {
        self.users.inc();
    }

    /// Adds a user unless the object is being destroyed (its users are 0); returns whether
    /// it did.
    pub(crate) fn try_add_user(&self) -> bool {
        let users = self.users.as_atomic();
        let mut cur = users.load(Relaxed);
        while cur != 0 {
            match users.cmpxchg(cur, cur + 1, Relaxed) {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
        false
    }

    /// Drops a user added with [`ObjectHeader::add_user`].
    pub(crate) fn put_user(&self) {
        self.users.dec();
    }

    /// Drops the table's user and the owner's ([`ObjectHeader::add_user`]) if they are the
    /// only ones left; returns whether it did.
    fn take_owned_users(&self) -> bool {
        self.users.as_atomic().cmpxchg(2, 0, Relaxed).is_ok()
    }
}

/// How long the in-kernel owner of an object waits for it to become free before it gives
/// up (C's `iommufd_object_dec_wait`: 60 s).
const DESTROY_WAIT: Delta = Delta::from_secs(60);

/// Runs `attempt` until it returns a value, sleeping between tries (from 100 us, doubling
/// up to 10 ms), for at most [`DESTROY_WAIT`]; `None` after that, logged as C logs it.
/// Lookups hold an object for the length of an ioctl or of an unmap callback.
fn wait_destroy<R>(mut attempt: impl FnMut() -> Option<R>) -> Option<R> {
    let start = Instant::<Monotonic>::now();
    let mut pause = Delta::from_micros(100);
    loop {
        if let Some(r) = attempt() {
            return Some(r);
        }
        if start.elapsed() > DESTROY_WAIT {
            pr_crit!("Time out waiting for iommufd object to become free\n");
            return None;
        }
        fsleep(pause);
        pause = Delta::from_micros((pause.as_micros_ceil() * 2).min(10_000));
    }
}

/// The table of objects of one open file.
#[pin_data]
pub(crate) struct ObjectTable {
    #[pin]
    xa: XArray<KBox<ObjectKind>>,
    /// The id of the IOAS the VFIO compatibility layer uses (`IOMMU_VFIO_IOAS`), 0 for
    /// none. Changed only under the xarray lock; destroying that IOAS clears it, so it never
    /// names a stale or reused id.
    compat_ioas: Atomic<u32>,
    /// VFIO attached a device without an IOMMU (`iommufd_vfio_compat_set_no_iommu()`): no
    /// compatibility IOAS may be made. Changed only under the xarray lock.
    no_iommu: Atomic<bool>,
    /// The number that tells this context apart from every other opened since the module
    /// loaded: `N` of its live-view directory `PID-N`, and `ctx` of its tracepoints.
    seq: u32,
}

/// The number of the next context ([`ObjectTable::seq`]).
static NEXT_SEQ: Atomic<u32> = Atomic::new(0);

/// An id reserved for an object under construction.
///
/// Dropping it frees the id.
pub(crate) struct Reservation<'a> {
    table: &'a ObjectTable,
    id: u32,
}

impl<'a> Reservation<'a> {
    /// The reserved id.
    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    /// Allocates the table entry for `obj`, so that publishing it cannot fail.
    ///
    /// # Errors
    ///
    /// `ENOMEM`; the id stays reserved until the reservation is dropped.
    pub(crate) fn prepare<T: ObjectType>(self, obj: Arc<T>) -> Result<Prepared<'a>> {
        let entry = KBox::new(T::into_kind(obj), GFP_KERNEL_ACCOUNT)?;
        Ok(Prepared {
            reservation: self,
            entry,
        })
    }
}

/// A reserved id with its object ready to be published.
///
/// Dropping it frees the id and drops the object.
pub(crate) struct Prepared<'a> {
    reservation: Reservation<'a>,
    entry: KBox<ObjectKind>,
}

impl<'a> Prepared<'a> {
    /// Publishes the object: from now on lookups find it.
    pub(crate) fn publish(self) {
        let table = self.reservation.table;
        let mut xa = table.xa.lock();
        let failed = self.publish_locked(&mut xa);
        drop(xa);
        // Torn down outside the spinlock; the reservation frees the id.
        drop(failed);
    }

    /// [`Prepared::publish`] under the table's lock, which `xa` holds. If the store fails
    /// (it cannot, short of a bug) returns what the caller must drop once it released the
    /// lock.
    #[must_use]
    fn publish_locked(
        self,
        xa: &mut kernel::xarray::Guard<'_, KBox<ObjectKind>>,
    ) -> Option<(KBox<ObjectKind>, Reservation<'a>)> {
        let Prepared { reservation, entry } = self;
        // The index is reserved, so the store replaces the reserved entry in place and
        // allocates nothing: it cannot fail.
        match xa.store(reservation.id as usize, entry, GFP_KERNEL_ACCOUNT) {
            Ok(_) => {
                core::mem::forget(reservation);
                None
            }
            Err(e) => {
                kernel::warn_on!(true);
                Some((e.value, reservation))
            }
        }
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        // A reserved index reads as empty, so this returns nothing to drop.
        let old = self.table.xa.lock().remove(self.id as usize);
        debug_assert!(old.is_none());
    }
}

/// A counted reference to an object, from a lookup by id.
///
/// While it lives, the object cannot be destroyed by `IOMMU_DESTROY` (which fails with
/// `EBUSY`).
pub(crate) struct ObjRef<T: ObjectType> {
    obj: Arc<T>,
}

impl<T: ObjectType> Deref for ObjRef<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.obj
    }
}

impl<T: ObjectType> ObjRef<T> {
    /// The object itself, to keep (a user count is not taken by clones of it).
    pub(crate) fn arc(&self) -> &Arc<T> {
        &self.obj
    }
}

impl<T: ObjectType> Clone for ObjRef<T> {
    /// Another user of the object.
    fn clone(&self) -> Self {
        self.obj.header().users.inc();
        Self {
            obj: self.obj.clone(),
        }
    }
}

impl<T: ObjectType> Drop for ObjRef<T> {
    fn drop(&mut self) {
        self.obj.header().users.dec();
    }
}

impl ObjectTable {
    /// An empty table.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            xa <- XArray::new(AllocKind::Alloc1),
            compat_ioas: Atomic::new(0),
            no_iommu: Atomic::new(false),
            seq: NEXT_SEQ.fetch_add(1, Relaxed),
        })
    }

    /// The number of the context (`N` of its live-view directory `PID-N`, `ctx` of its
    /// tracepoints).
    pub(crate) fn seq(&self) -> u32 {
        self.seq
    }

    /// Reserves the lowest free id.
    ///
    /// # Errors
    ///
    /// `ENOMEM` when memory runs out, `EBUSY` when all 2^31 - 1 ids are taken.
    pub(crate) fn reserve(&self) -> Result<Reservation<'_>> {
        let id = self
            .xa
            .lock()
            .reserve_index(1, ID_MAX, GFP_KERNEL_ACCOUNT)?;
        Ok(Reservation { table: self, id })
    }

    /// Looks up the object `id`, which must be of type `T`.
    ///
    /// # Errors
    ///
    /// `ENOENT` if there is no such finished object of that type.
    pub(crate) fn get<T: ObjectType>(&self, id: u32) -> Result<ObjRef<T>> {
        // A fault injection point, as C's `iommufd_get_object()`.
        if crate::should_fail() {
            return Err(ENOENT);
        }
        let xa = self.xa.lock();
        let kind = xa.get(id as usize).ok_or(ENOENT)?;
        let obj = T::from_kind(kind).ok_or(ENOENT)?;
        // The table's user keeps `users` above zero while the object is in the table.
        obj.header().users.inc();
        Ok(ObjRef { obj: obj.clone() })
    }

    /// The error for an id that is not of the type looked for: `EINVAL` if it names an
    /// object of another type, `ENOENT` if it names none.
    pub(crate) fn kind_error(&self, id: u32) -> Error {
        if self.xa.lock().get(id as usize).is_some() {
            EINVAL
        } else {
            ENOENT
        }
    }

    /// Destroys the object `id` (`IOMMU_DESTROY`); also says what the id named (its kind's
    /// index in [`ObjectKind::NAMES`], `None` for nothing), for the tracepoint.
    ///
    /// # Errors
    ///
    /// `ENOENT` if there is no such finished object, `EBUSY` if something else uses it.
    pub(crate) fn destroy(&self, id: u32) -> (Option<usize>, Result) {
        let mut xa = self.xa.lock();
        let Some(kind) = xa.get(id as usize) else {
            return (None, Err(ENOENT));
        };
        let name = Some(kind.index());
        if !kind.header().take_last_user() {
            return (name, Err(EBUSY));
        }
        let obj = xa.remove(id as usize);
        // The compatibility IOAS goes with its object.
        let _ = self.compat_ioas.cmpxchg(id, 0, Relaxed);
        drop(xa);
        // Tear the object down outside the spinlock.
        drop(obj);
        (name, Ok(()))
    }

    /// Destroys `obj`, published as `id`, if only the table uses it (an automatic HWPT
    /// after its last device detached); otherwise leaves it.
    pub(crate) fn try_destroy<T: ObjectType>(&self, id: u32, obj: &Arc<T>) {
        let mut xa = self.xa.lock();
        let Some(kind) = xa.get(id as usize) else {
            return;
        };
        // The id may have been reused after a destroy: compare the objects.
        if !T::from_kind(kind).is_some_and(|o| Arc::ptr_eq(o, obj)) {
            return;
        }
        if !kind.header().take_last_user() {
            return;
        }
        let removed = xa.remove(id as usize);
        drop(xa);
        drop(removed);
    }

    /// Removes the object `id`, of type `T`, for its in-kernel owner, which is a user of it
    /// ([`ObjectHeader::add_user`]): waits until lookups in flight (short-term users) are
    /// done, then removes it whatever user space does.
    ///
    /// As C's `iommufd_object_destroy_user`, it waits at most [`DESTROY_WAIT`]: then it
    /// logs, warns, gives the owner's user back and leaves the object to the file's close.
    pub(crate) fn remove_owned<T: ObjectType>(&self, id: u32) {
        let removed = wait_destroy(|| {
            let mut xa = self.xa.lock();
            let Some(kind) = xa.get(id as usize) else {
                // Only the owner removes it: it must be there.
                kernel::warn_on!(true);
                return Some(());
            };
            kernel::warn_on!(T::from_kind(kind).is_none());
            if kind.header().take_owned_users() {
                let obj = xa.remove(id as usize);
                drop(xa);
                drop(obj);
                return Some(());
            }
            None
        });
        if removed.is_none() {
            // A bug: something holds the object. The close destroys it.
            kernel::warn_on!(true);
            if let Some(kind) = self.xa.lock().get(id as usize) {
                kind.header().put_user();
            }
        }
    }

    /// Destroys the object `id` of type `T`, if `is_it` says it is the one meant, for the
    /// destruction of what it depends on (a vDEVICE when its device goes), leaving a
    /// tombstone: the id stays taken until the file is closed, and looking it up or
    /// destroying it fails with `ENOENT` (C's `iommufd_object_tombstone_user`). Waits until
    /// lookups in flight are done, at most [`DESTROY_WAIT`], as [`ObjectTable::remove_owned`].
    pub(crate) fn tombstone<T: ObjectType>(&self, id: u32, is_it: impl Fn(&T) -> bool) {
        let done = wait_destroy(|| {
            let mut xa = self.xa.lock();
            let Some(kind) = xa.get(id as usize) else {
                return Some(());
            };
            if !T::from_kind(kind).is_some_and(|o| is_it(o)) {
                return Some(());
            }
            if kind.header().take_last_user() {
                let removed = xa.tombstone(id as usize);
                drop(xa);
                drop(removed);
                return Some(());
            }
            None
        });
        // A bug: something holds the object; the close destroys it.
        kernel::warn_on!(done.is_none());
    }

    /// References on every finished object of type `T`, in id order.
    ///
    /// # Errors
    ///
    /// `ENOMEM`.
    pub(crate) fn all<T: ObjectType>(&self) -> Result<KVec<ObjRef<T>>> {
        self.collect(|_, obj: &Arc<T>| {
            obj.header().users.inc();
            ObjRef { obj: obj.clone() }
        })
    }

    /// `take(id, obj)` of every finished object of type `T`, under the table's spinlock.
    fn collect<T: ObjectType, R>(
        &self,
        mut take: impl FnMut(u32, &Arc<T>) -> R,
    ) -> Result<KVec<R>> {
        self.collect_kinds(|id, kind| T::from_kind(kind).map(|obj| take(id, obj)))
    }

    /// What `take(id, kind)` returns for every finished object, in id order, under the
    /// table's spinlock (taken once per object, room for the result made outside it).
    fn collect_kinds<R>(
        &self,
        mut take: impl FnMut(u32, &ObjectKind) -> Option<R>,
    ) -> Result<KVec<R>> {
        let mut out = KVec::new();
        let mut index = 0;
        loop {
            out.reserve(1, GFP_KERNEL_ACCOUNT)?;
            let xa = self.xa.lock();
            let Some((found, kind)) = xa.find(index) else {
                return Ok(out);
            };
            index = found + 1;
            // Ids fit in 31 bits.
            if let Some(r) = take(found as u32, kind) {
                // Room was reserved above.
                let _ = out.push_within_capacity(r);
            }
        }
    }

    /// The finished objects of type `T`, for looking at them (the live view): unlike
    /// [`ObjectTable::all`] it takes no user on them, so that looking never makes an
    /// `IOMMU_DESTROY` fail. One destroyed meanwhile is torn down when the last of these
    /// goes.
    ///
    /// # Errors
    ///
    /// `ENOMEM`.
    pub(crate) fn peek_all<T: ObjectType>(&self) -> Result<KVec<(u32, Arc<T>)>> {
        self.collect(|id, obj: &Arc<T>| (id, obj.clone()))
    }

    /// Each finished object's id, kind (an index of [`ObjectKind::NAMES`]) and users (the
    /// table's own included), in id order, for the live view.
    ///
    /// # Errors
    ///
    /// `ENOMEM`.
    pub(crate) fn list(&self) -> Result<KVec<(u32, usize, u32)>> {
        self.collect_kinds(|id, kind| {
            let users = kind.header().users.as_atomic().load(Relaxed);
            Some((id, kind.index(), users as u32))
        })
    }

    /// Counts the finished objects of each kind, by [`ObjectKind::index`].
    pub(crate) fn count_kinds(&self) -> [usize; ObjectKind::NAMES.len()] {
        let mut counts = [0; ObjectKind::NAMES.len()];
        let xa = self.xa.lock();
        let mut index = 0;
        while let Some((found, kind)) = xa.find(index) {
            counts[kind.index()] += 1;
            index = found + 1;
        }
        counts
    }

    /// Whether some finished object of type `T` satisfies `f`, which runs under the table's
    /// spinlock.
    pub(crate) fn any<T: ObjectType>(&self, f: impl Fn(&T) -> bool) -> bool {
        let xa = self.xa.lock();
        let mut index = 0;
        while let Some((found, kind)) = xa.find(index) {
            if T::from_kind(kind).is_some_and(|obj| f(obj)) {
                return true;
            }
            index = found + 1;
        }
        false
    }

    /// Makes the object `id`, of type `T`, the VFIO compatibility IOAS.
    ///
    /// # Errors
    ///
    /// `ENOENT` if there is no such finished object of that type.
    pub(crate) fn set_compat<T: ObjectType>(&self, id: u32) -> Result {
        let xa = self.xa.lock();
        let kind = xa.get(id as usize).ok_or(ENOENT)?;
        T::from_kind(kind).ok_or(ENOENT)?;
        self.compat_ioas.store(id, Relaxed);
        Ok(())
    }

    /// Publishes `prepared`, an IOAS, as the VFIO compatibility IOAS unless there is one
    /// already (C's `iommufd_vfio_compat_ioas_create()`); it is dropped then.
    ///
    /// # Errors
    ///
    /// `EINVAL` in no-IOMMU mode.
    pub(crate) fn publish_compat(&self, prepared: Prepared<'_>) -> Result {
        let mut xa = self.xa.lock();
        if self.no_iommu.load(Relaxed) {
            return Err(EINVAL);
        }
        let cur = self.compat_ioas.load(Relaxed);
        if cur != 0 && xa.get(cur as usize).is_some() {
            drop(xa);
            drop(prepared);
            return Ok(());
        }
        let id = prepared.reservation.id;
        let failed = prepared.publish_locked(&mut xa);
        if failed.is_none() {
            self.compat_ioas.store(id, Relaxed);
        }
        drop(xa);
        drop(failed);
        Ok(())
    }

    /// Whether VFIO put the context in no-IOMMU mode ([`ObjectTable::set_no_iommu`]).
    pub(crate) fn no_iommu(&self) -> bool {
        self.no_iommu.load(Relaxed)
    }

    /// Enters no-IOMMU mode (C's `iommufd_vfio_compat_set_no_iommu()`).
    ///
    /// # Errors
    ///
    /// `EINVAL` if there is a compatibility IOAS.
    pub(crate) fn set_no_iommu(&self) -> Result {
        let _xa = self.xa.lock();
        if self.compat_ioas.load(Relaxed) != 0 {
            return Err(EINVAL);
        }
        self.no_iommu.store(true, Relaxed);
        Ok(())
    }

    /// Forgets the VFIO compatibility IOAS.
    pub(crate) fn clear_compat(&self) {
        let _xa = self.xa.lock();
        self.compat_ioas.store(0, Relaxed);
    }

    /// The VFIO compatibility IOAS, and its id.
    ///
    /// # Errors
    ///
    /// `ENODEV` if there is none.
    pub(crate) fn get_compat<T: ObjectType>(&self) -> Result<(u32, ObjRef<T>)> {
        let xa = self.xa.lock();
        let id = self.compat_ioas.load(Relaxed);
        let kind = xa.get(id as usize).ok_or(ENODEV)?;
        let obj = T::from_kind(kind).ok_or(ENODEV)?;
        obj.header().users.inc();
        Ok((id, ObjRef { obj: obj.clone() }))
    }

    /// Runs `f` under the table lock, telling it whether the table holds no object and no
    /// reserved id.
    pub(crate) fn with_emptiness<R>(&self, f: impl FnOnce(bool) -> R) -> R {
        let xa = self.xa.lock();
        f(xa.is_empty())
    }

    /// Destroys every object, users before what they use (when the file is closed).
    ///
    /// Objects only the table uses go first; that lowers the counts of what they used, and
    /// the next pass takes those. A pass that frees nothing while objects remain means a
    /// count is wrong: that is reported, and the rest are dropped anyway (their memory is
    /// reference counted, so this leaks nothing and frees nothing in use).
    pub(crate) fn destroy_all(&self) {
        loop {
            let mut index = 0;
            let mut destroyed = 0usize;
            let mut remaining = 0usize;
            loop {
                let mut xa = self.xa.lock();
                let Some((found, kind)) = xa.find(index) else {
                    break;
                };
                index = found + 1;
                if !kind.header().take_last_user() {
                    remaining += 1;
                    continue;
                }
                let obj = xa.remove(found);
                drop(xa);
                drop(obj);
                destroyed += 1;
            }
            if remaining == 0 {
                return;
            }
            if destroyed == 0 {
                pr_err!("{} objects still in use at close\n", remaining);
                kernel::warn_on!(true);
                self.remove_all();
                return;
            }
        }
    }

    /// Removes every entry whatever its count.
    fn remove_all(&self) {
        loop {
            let mut xa = self.xa.lock();
            let Some((found, _)) = xa.find(0) else {
                return;
            };
            let obj = xa.remove(found);
            drop(xa);
            drop(obj);
        }
    }
}

#[kunit_tests(iommufd_object_table)]
mod tests {
    use super::*;
    use crate::pagetable::Ioas;

    fn table() -> Result<Pin<KBox<ObjectTable>>> {
        KBox::pin_init(ObjectTable::new(), GFP_KERNEL)
    }

    fn add(t: &ObjectTable) -> Result<u32> {
        let r = t.reserve()?;
        let id = r.id();
        r.prepare(Ioas::new()?)?.publish();
        Ok(id)
    }

    #[test]
    fn ids_start_at_one_and_reuse_the_lowest() -> Result {
        let t = table()?;
        assert_eq!(add(&t)?, 1);
        assert_eq!(add(&t)?, 2);
        assert_eq!(add(&t)?, 3);
        t.destroy(2).1?;
        assert_eq!(add(&t)?, 2);
        Ok(())
    }

    #[test]
    fn reserved_ids_are_invisible_and_freed_on_drop() -> Result {
        let t = table()?;
        let r = t.reserve()?;
        assert_eq!(r.id(), 1);
        assert!(t.get::<Ioas>(1).is_err());
        assert_eq!(t.destroy(1).1, Err(ENOENT));
        t.with_emptiness(|empty| assert!(!empty));
        drop(r);
        t.with_emptiness(|empty| assert!(empty));
        assert_eq!(t.reserve()?.id(), 1);
        // An object prepared but never published frees its id too.
        let p = t.reserve()?.prepare(Ioas::new()?)?;
        drop(p);
        assert_eq!(add(&t)?, 1);
        Ok(())
    }

    #[test]
    fn destroy_refuses_while_referenced() -> Result {
        let t = table()?;
        let id = add(&t)?;
        let r1 = t.get::<Ioas>(id)?;
        let r2 = t.get::<Ioas>(id)?;
        assert_eq!(t.destroy(id).1, Err(EBUSY));
        drop(r1);
        assert_eq!(t.destroy(id).1, Err(EBUSY));
        drop(r2);
        assert_eq!(t.destroy(id).1, Ok(()));
        assert_eq!(t.destroy(id).1, Err(ENOENT));
        Ok(())
    }

    #[test]
    fn destroy_all_empties_the_table() -> Result {
        let t = table()?;
        for _ in 0..100 {
            add(&t)?;
        }
        t.destroy_all();
        t.with_emptiness(|empty| assert!(empty));
        assert_eq!(add(&t)?, 1);
        Ok(())
    }
}
