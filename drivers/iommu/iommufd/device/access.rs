// SPDX-License-Identifier: GPL-2.0

//! The access object: an in-kernel user of an IOAS (C's `struct iommufd_access`).
//!
//! A driver that emulates a device (VFIO's mediated devices; here, the test command's
//! accessor) creates an access in a context, attaches it to an IOAS, and then pins the pages
//! under IOVA ranges or copies to and from them. When user space unmaps a range the access
//! pinned, the IOAS calls the driver back ([`AccessOps::unmap`]) and the driver unpins.
//!
//! # Lifetime
//!
//! [`Access::create`] gives the access an id in the context's table (no uAPI uses it, but
//! ids stay as C numbers them) and returns it to the driver, which is a user of it until
//! [`Access::destroy`]: `IOMMU_DESTROY` on its id fails with `EBUSY` meanwhile. The access
//! holds a reference on the context ([`CtxRef`]), so the context outlives it, and a user on
//! the IOAS it is attached to, so that IOAS cannot be destroyed under it. An internal access
//! ([`Access::create_internal`], a HW queue's) holds only the context's object table, which
//! is reference counted apart from the file: the file can close, and closing it destroys
//! the queue and so the access.
//!
//! # Locking
//!
//! `state` (C's `ioas_lock`) is taken before the IOAS's `IoPageTable::state`. It is dropped
//! around the driver's unmap callback, which unpins and so takes it again.

use kernel::{
    new_mutex, new_spinlock,
    page::PAGE_SIZE,
    prelude::*,
    sync::{Arc, Mutex, MutexGuard, SpinLock},
};

use crate::{
    ctx::CtxRef,
    object::{ObjRef, ObjectHeader, ObjectTable},
    pagetable::{access::AccessNotify, iova::IovaRange, pages::RwFlags, Ioas},
};

/// What the driver of an access provides.
pub(crate) trait AccessOps: Send + Sync {
    /// Unpins everything the driver pinned through the access in `[iova, iova + length)`;
    /// when this returns, it has.
    fn unmap(&self, iova: u64, length: u64);
}

/// The IOAS side of an access, under its lock.
struct AccessState {
    /// The IOAS attached (C's `ioas_unpin`): unpins go there.
    ioas: Option<ObjRef<Ioas>>,
    /// Whether pins are allowed (C's `ioas` being set): false while the IOAS changes.
    pin_allowed: bool,
}

/// An in-kernel access.
#[pin_data]
pub(crate) struct Access {
    header: ObjectHeader,
    /// The object table of the context the access lives in.
    table: Arc<ObjectTable>,
    /// A reference on the context (C's `iommufd_ctx_get()`), but for an internal access.
    _ctx: Option<CtxRef>,
    /// Its id there.
    id: u32,
    /// Whether the driver pins pages (then IOVA must be page aligned).
    needs_pin: bool,
    /// An access of iommufd itself (a HW queue's): it has no callbacks, its pins lock
    /// their areas against unmap, and it holds no reference on the context (a HW queue is
    /// an object of the context: it would keep its own file open), only on its table.
    internal: bool,
    /// The IOAS attached.
    #[pin]
    state: Mutex<AccessState>,
    /// The driver's callbacks, until the access is destroyed.
    #[pin]
    ops: SpinLock<Option<Arc<dyn AccessOps>>>,
}

crate::object::object_type!(Access, Access);

impl AccessNotify for Access {
    fn notify_unmap(&self, iova: u64, length: u64) {
        let ops = self.ops.lock().clone();
        if let Some(ops) = ops {
            ops.unmap(iova, length);
        }
    }
}

/// `[iova, iova + length)` as a range.
///
/// # Errors
///
/// `EINVAL` for a zero length, `EOVERFLOW` if it wraps.
fn range_of(iova: u64, length: u64) -> Result<IovaRange> {
    if length == 0 {
        return Err(EINVAL);
    }
    let last = iova.checked_add(length - 1).ok_or(EOVERFLOW)?;
    Ok(IovaRange { start: iova, last })
}

impl Access {
    /// Creates an access in the context `ctx`; `needs_pin` if the driver will pin pages.
    /// The driver sets its callbacks with [`Access::set_ops`].
    ///
    /// # Errors
    ///
    /// `ENOMEM`, `EBUSY` when the context has no free id.
    pub(crate) fn create(ctx: CtxRef, needs_pin: bool) -> Result<Arc<Self>> {
        Self::new(ctx.objects.clone(), Some(ctx), needs_pin, false)
    }

    /// Creates an internal access in `ctx` (C's `iommufd_access_create_internal`): it pins
    /// pages, and its pins lock their areas (unmap fails with `EBUSY`) since it has no
    /// callback to let go.
    ///
    /// # Errors
    ///
    /// As [`Access::create`].
    pub(crate) fn create_internal(table: &Arc<ObjectTable>) -> Result<Arc<Self>> {
        Self::new(table.clone(), None, true, true)
    }

    fn new(
        table: Arc<ObjectTable>,
        ctx: Option<CtxRef>,
        needs_pin: bool,
        internal: bool,
    ) -> Result<Arc<Self>> {
        let shared = table.clone();
        let reservation = table.reserve()?;
        let id = reservation.id();
        let access = Arc::pin_init(
            pin_init!(Self {
                header: ObjectHeader::new(),
                table: shared,
                _ctx: ctx,
                id,
                needs_pin,
                internal,
                state <- new_mutex!(AccessState {
                    ioas: None,
                    pin_allowed: false,
                }),
                ops <- new_spinlock!(None),
            }),
            GFP_KERNEL_ACCOUNT,
        )?;
        // The driver is a user until it destroys the access.
        access.header.add_user();
        reservation.prepare(access.clone())?.publish();
        Ok(access)
    }

    /// The id in the context's table.
    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    /// Whether the driver pins pages.
    pub(crate) fn needs_pin(&self) -> bool {
        self.needs_pin
    }

    /// Sets the driver's callbacks.
    pub(crate) fn set_ops(&self, ops: Arc<dyn AccessOps>) {
        *self.ops.lock() = Some(ops);
    }

    /// Destroys the access (C's `iommufd_access_destroy`): removes it from its context,
    /// waiting for lookups in flight, detaches it, and forgets the driver's callbacks.
    pub(crate) fn destroy(this: &Arc<Self>) {
        this.table.remove_owned::<Self>(this.id);
        let state = this.state.lock();
        if state.ioas.is_some() {
            // Nothing fails when detaching but a concurrent change, which the driver, being
            // the one destroying, cannot be making.
            kernel::warn_on!(Self::change_ioas(this, state, None).is_err());
        } else {
            drop(state);
        }
        *this.ops.lock() = None;
    }

    /// Moves the access to `new` (or detaches it); C's `iommufd_access_change_ioas`.
    fn change_ioas<'a>(
        this: &'a Arc<Self>,
        mut state: MutexGuard<'a, AccessState>,
        new: Option<ObjRef<Ioas>>,
    ) -> Result {
        if state.pin_allowed != state.ioas.is_some() {
            // A concurrent change is in progress.
            return Err(EBUSY);
        }
        let same = match (&state.ioas, &new) {
            (Some(cur), Some(new)) => core::ptr::eq::<Ioas>(&**cur, &**new),
            (None, None) => true,
            _ => false,
        };
        if same {
            return Ok(());
        }
        let notify: Arc<dyn AccessNotify> = this.clone();
        let alignment = if this.needs_pin { PAGE_SIZE as u64 } else { 1 };
        state.pin_allowed = false;
        if let Some(new) = &new {
            if let Err(e) = new.iopt.add_access(notify.clone(), alignment) {
                state.pin_allowed = state.ioas.is_some();
                return Err(e);
            }
        }
        if state.ioas.is_some() {
            // The driver unpins everything; it takes the lock to do so.
            let ops = this.ops.lock().clone();
            if let Some(ops) = ops {
                drop(state);
                ops.unmap(0, u64::MAX);
                state = this.state.lock();
            }
            if let Some(cur) = &state.ioas {
                cur.iopt.remove_access(&notify);
            }
        }
        state.pin_allowed = new.is_some();
        // The user on the old IOAS goes with its reference.
        state.ioas = new;
        Ok(())
    }

    /// Attaches the access to the IOAS `ioas_id`.
    ///
    /// # Errors
    ///
    /// `ENOENT` for no such IOAS, `EINVAL` if already attached, `EADDRINUSE` if a mapping of
    /// the IOAS is not page aligned and the driver pins pages, `ENOMEM`.
    pub(crate) fn attach(this: &Arc<Self>, ioas_id: u32) -> Result {
        let ioas = this.table.get::<Ioas>(ioas_id)?;
        Self::attach_ioas(this, ioas)
    }

    /// Attaches the access to `ioas`.
    ///
    /// # Errors
    ///
    /// As [`Access::attach`].
    pub(crate) fn attach_ioas(this: &Arc<Self>, ioas: ObjRef<Ioas>) -> Result {
        let state = this.state.lock();
        if state.ioas.is_some() {
            return Err(EINVAL);
        }
        Self::change_ioas(this, state, Some(ioas))
    }

    /// Detaches the access from its IOAS; the driver's unmap callback unpins everything
    /// first. Detaching an access that is not attached is a bug of the driver.
    pub(crate) fn detach(this: &Arc<Self>) {
        let state = this.state.lock();
        if state.ioas.is_none() {
            kernel::warn_on!(true);
            return;
        }
        // Only a concurrent change fails, which the driver, detaching, is not making.
        kernel::warn_on!(Self::change_ioas(this, state, None).is_err());
    }

    /// Moves the access to the IOAS `ioas_id`, the driver having unpinned everything from
    /// the old one.
    ///
    /// # Errors
    ///
    /// `ENOENT` if not attached or for no such IOAS, `EBUSY` during another change, as
    /// [`Access::attach`].
    pub(crate) fn replace(this: &Arc<Self>, ioas_id: u32) -> Result {
        let state = this.state.lock();
        if state.ioas.is_none() {
            return Err(ENOENT);
        }
        let ioas = this.table.get::<Ioas>(ioas_id)?;
        Self::change_ioas(this, state, Some(ioas))
    }

    /// Pins the pages under `[iova, iova + length)`, which must be page aligned in the
    /// memory; calls `out(pfn)` for each.
    ///
    /// # Errors
    ///
    /// `EINVAL` for a driver that does not pin, a zero length or a misaligned range,
    /// `EOVERFLOW`, `ENOENT` if detached or not all mapped, `EPERM`, `ENOMEM` (also over
    /// `RLIMIT_MEMLOCK`), `EFAULT`.
    pub(crate) fn pin_pages(
        &self,
        iova: u64,
        length: u64,
        write: bool,
        out: impl FnMut(usize),
    ) -> Result {
        if !self.needs_pin {
            kernel::warn_on!(true);
            return Err(EINVAL);
        }
        let range = range_of(iova, length)?;
        let state = self.state.lock();
        match &state.ioas {
            Some(ioas) if state.pin_allowed => {
                ioas.iopt.access_pin(range, write, self.internal, out)
            }
            _ => Err(ENOENT),
        }
    }

    /// Unpins exactly a range pinned with [`Access::pin_pages`].
    pub(crate) fn unpin_pages(&self, iova: u64, length: u64) {
        let Ok(range) = range_of(iova, length) else {
            kernel::warn_on!(true);
            return;
        };
        let state = self.state.lock();
        match &state.ioas {
            Some(ioas) => ioas.iopt.access_unpin(range, self.internal),
            None => {
                kernel::warn_on!(true);
            }
        }
    }

    /// Runs `f` on the IOAS the access is attached to, if any, under the access's lock.
    pub(crate) fn with_ioas<R>(&self, f: impl FnOnce(&Ioas) -> R) -> Option<R> {
        let state = self.state.lock();
        state.ioas.as_deref().map(f)
    }

    /// Copies between `buf` and the memory at `iova`: into it if `flags.write`, as
    /// [`crate::pagetable::pages::Pages::rw`] describes.
    ///
    /// # Errors
    ///
    /// `EINVAL` for an empty buffer, `EOVERFLOW`, `ENOENT` if detached or not all mapped,
    /// `EPERM`, `EFAULT`, `ENOMEM`.
    pub(crate) fn rw(&self, iova: u64, buf: &mut [u8], flags: RwFlags) -> Result {
        range_of(iova, buf.len() as u64)?;
        let state = self.state.lock();
        match &state.ioas {
            Some(ioas) if state.pin_allowed => ioas.iopt.access_rw(iova, buf, flags),
            _ => Err(ENOENT),
        }
    }
}
