// SPDX-License-Identifier: GPL-2.0

//! The live view in debugfs: `/sys/kernel/debug/iommufd/`, read-only (the format is in
//! Documentation/iommufd-rs/observability.rst).
//!
//! `summary` adds up what every open context pins, per process and per user. Each open
//! `/dev/iommu` has a directory `PID-N` (the process that opened it, and a number that
//! tells its contexts apart) with `objects` (every object: id, kind, users), `ioas`
//! (every IOAS: its mappings and what backs them, its pinned pages and the runs they form,
//! its reserved and allowed ranges, its domains and accesses), `devices` (every bound
//! device: its group, and the HWPT its RID and each PASID are attached to), `hwpts` (every
//! HWPT and vIOMMU: what it is built on, its fault queue) and `queues` (every fault queue
//! and vEVENTQ: what it holds, lost events).
//!
//! # Lifetimes and locks
//!
//! [`Registry`] (behind the module's `REGISTRY` mutex) holds the root directory while the
//! module is loaded and an entry per open context. A context's directory is removed, which
//! waits for its readers, before the context destroys its objects ([`CtxDir::remove`]).
//! Readers take the registry's mutex (only `summary`, and never while a directory is
//! removed), then the object table's spinlock briefly (to take references, no user), then
//! each IO page table's mutex and each `Pages`' mutex, as ioctls do: a reader holds nothing
//! an ioctl waits for while it holds something the reader waits for.

use core::fmt;

use kernel::{
    debugfs::{Dir, File, Scope, ScopedDir},
    prelude::*,
    str::CString,
    sync::Arc,
};

use crate::{
    device::idev::IDevice,
    kinds::ObjectKind,
    object::ObjectTable,
    pagetable::{
        eventq::{fault::Fault, veventq::VEventq},
        hwpt::HwptPaging,
        nested::HwptNested,
        view::{pinned_bytes, write_iopt},
        viommu::Viommu,
        Ioas,
    },
    REGISTRY,
};

/// One open context, as the registry lists it.
struct Entry {
    /// The number of its directory.
    seq: u32,
    /// The process that opened it (its thread group id).
    pid: i32,
    /// The effective user of that process.
    uid: u32,
    /// Its objects.
    objects: Arc<ObjectTable>,
}

/// The root directory and the open contexts.
pub(crate) struct Registry {
    /// `/sys/kernel/debug/iommufd`, while the module is loaded.
    root: Option<Dir>,
    /// The open contexts.
    contexts: KVec<Entry>,
}

impl Registry {
    /// No root and no contexts: what the module's static starts as.
    pub(crate) const fn new() -> Self {
        Self {
            root: None,
            contexts: KVec::new(),
        }
    }
}

/// The root directory and its `summary`, while the module is loaded.
pub(crate) struct Root {
    summary: Option<Pin<KBox<File<()>>>>,
}

impl Root {
    /// Creates `/sys/kernel/debug/iommufd/` and its `summary`. Without debugfs, or short of
    /// memory, there is nothing to see, and `/dev/iommu` works the same.
    pub(crate) fn create() -> Self {
        let root = Dir::new(c"iommufd");
        let summary = KBox::pin_init(
            root.read_callback_file(c"summary", (), &write_summary),
            GFP_KERNEL,
        )
        .ok();
        REGISTRY.lock().root = Some(root);
        Self { summary }
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        self.summary.take();
        let mut registry = REGISTRY.lock();
        registry.root.take();
        // Every context is closed (an open file holds the module): free the list itself.
        registry.contexts = KVec::new();
    }
}

/// What a context's files read.
struct CtxView {
    objects: Arc<ObjectTable>,
}

/// A context's directory, `PID-N`.
pub(crate) struct CtxDir {
    seq: u32,
    scope: Option<Pin<KBox<Scope<CtxView>>>>,
}

impl CtxDir {
    /// Lists the context of `objects`, opened by the current process, and makes its
    /// directory. Short of memory the context is neither listed nor shown, and works the
    /// same.
    pub(crate) fn create(objects: &Arc<ObjectTable>) -> Self {
        let task = kernel::current!();
        let pid = task.tgid_nr_ns(None);
        let uid = task.euid().into_uid_in_current_ns();
        let seq = objects.seq();
        let mut registry = REGISTRY.lock();
        let entry = Entry {
            seq,
            pid,
            uid,
            objects: objects.clone(),
        };
        let root = match registry.contexts.push(entry, GFP_KERNEL) {
            Ok(()) => registry.root.clone(),
            Err(_) => None,
        };
        drop(registry);
        let scope = root.and_then(|root| {
            let name = CString::try_from_fmt(fmt!("{pid}-{seq}")).ok()?;
            let view = CtxView {
                objects: objects.clone(),
            };
            KBox::pin_init(root.scope(view, &name, populate), GFP_KERNEL).ok()
        });
        Self { seq, scope }
    }

    /// Removes the directory, waiting for its readers, and the registry's entry.
    pub(crate) fn remove(&mut self) {
        self.scope.take();
        let mut registry = REGISTRY.lock();
        let seq = self.seq;
        registry.contexts.retain(|e| e.seq != seq);
    }
}

impl Drop for CtxDir {
    fn drop(&mut self) {
        self.remove();
    }
}

/// The files of a context's directory.
fn populate<'data>(view: &'data CtxView, dir: &ScopedDir<'data, '_>) {
    dir.read_callback_file(c"objects", view, &write_objects);
    dir.read_callback_file(c"ioas", view, &write_ioas);
    dir.read_callback_file(c"devices", view, &write_devices);
    dir.read_callback_file(c"hwpts", view, &write_hwpts);
    dir.read_callback_file(c"queues", view, &write_queues);
}

/// `objects`: `ID KIND users=N` a line, in id order.
fn write_objects(view: &CtxView, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let Ok(all) = view.objects.list() else {
        return writeln!(f, "? out of memory");
    };
    for (id, kind, users) in all {
        writeln!(f, "{id} {} users={users}", ObjectKind::NAMES[kind])?;
    }
    Ok(())
}

/// `ioas`: a section `ioas ID` per IOAS, in id order.
fn write_ioas(view: &CtxView, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let Ok(all) = view.objects.peek_all::<Ioas>() else {
        return writeln!(f, "? out of memory");
    };
    for (id, ioas) in all {
        writeln!(f, "ioas {id}")?;
        write_iopt(&ioas.iopt, f)?;
    }
    Ok(())
}

/// `devices`: a section per bound device, in id order.
fn write_devices(view: &CtxView, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let Ok(all) = view.objects.peek_all::<IDevice>() else {
        return writeln!(f, "? out of memory");
    };
    all.iter().try_for_each(|(_, idev)| idev.write_view(f))
}

/// The id of `obj` among `all`, as the live view prints a reference: `ID`, or `none`.
struct IdOf(Option<u32>);

impl IdOf {
    fn find<T>(all: &[(u32, Arc<T>)], obj: Option<&T>) -> Self {
        Self(obj.and_then(|obj| {
            all.iter()
                .find(|(_, a)| core::ptr::eq(&**a, obj))
                .map(|(id, _)| *id)
        }))
    }
}

impl fmt::Display for IdOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(id) => write!(f, "{id}"),
            None => f.write_str("none"),
        }
    }
}

/// `hwpts`: each paging HWPT with its IOAS, each nested HWPT with its parent and vIOMMU,
/// each vIOMMU with its parent, in id order per kind.
fn write_hwpts(view: &CtxView, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let t = &view.objects;
    let (Ok(ioases), Ok(pagings), Ok(nesteds), Ok(viommus), Ok(faults)) = (
        t.peek_all::<Ioas>(),
        t.peek_all::<HwptPaging>(),
        t.peek_all::<HwptNested>(),
        t.peek_all::<Viommu>(),
        t.peek_all::<Fault>(),
    ) else {
        return writeln!(f, "? out of memory");
    };
    for (id, h) in pagings.iter() {
        writeln!(
            f,
            "hwpt {id} paging ioas={} auto={} nest-parent={} pasid={} coherent={} fault={}",
            IdOf::find(&ioases, Some(&**h.ioas.arc())),
            u8::from(h.auto_domain),
            u8::from(h.nest_parent),
            u8::from(h.pasid_compat),
            u8::from(h.coherent()),
            IdOf::find(&faults, h.fault.as_ref().map(|q| &**q.arc())),
        )?;
    }
    for (id, h) in nesteds.iter() {
        writeln!(
            f,
            "hwpt {id} nested parent={} viommu={} pasid={} fault={}",
            IdOf::find(&pagings, Some(h.parent())),
            IdOf::find(&viommus, h.viommu()),
            u8::from(h.pasid_compat),
            IdOf::find(&faults, h.fault.as_ref().map(|q| &**q.arc())),
        )?;
    }
    for (id, v) in viommus.iter() {
        writeln!(
            f,
            "viommu {id} type={} parent={}",
            v.drv.viommu_type(),
            IdOf::find(&pagings, Some(v.parent())),
        )?;
    }
    Ok(())
}

/// `queues`: each fault queue and vEVENTQ with what it holds, in id order per kind.
fn write_queues(view: &CtxView, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let t = &view.objects;
    let (Ok(faults), Ok(veventqs), Ok(viommus)) = (
        t.peek_all::<Fault>(),
        t.peek_all::<VEventq>(),
        t.peek_all::<Viommu>(),
    ) else {
        return writeln!(f, "? out of memory");
    };
    for (id, q) in faults.iter() {
        let (queued, awaiting) = q.depth();
        writeln!(f, "fault {id} queued={queued} awaiting-response={awaiting}")?;
    }
    for (id, q) in veventqs.iter() {
        let v = q.view();
        writeln!(
            f,
            "veventq {id} viommu={} type={} depth={} queued={} lost={}",
            IdOf::find(&viommus, Some(q.viommu())),
            v.ty,
            v.depth,
            v.queued,
            u8::from(v.lost),
        )?;
    }
    Ok(())
}

/// `summary`: `process PID contexts=N pinned-bytes=B` and `user UID contexts=N
/// pinned-bytes=B` lines, each process and user once, in the order first opened.
fn write_summary(_: &(), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let registry = REGISTRY.lock();
    // (is a user, pid or uid, contexts, bytes); a context's pins counted once in each.
    let mut rows: KVec<(bool, u32, usize, usize)> = KVec::new();
    for e in registry.contexts.iter() {
        let bytes = pinned_bytes(&e.objects).unwrap_or(0);
        for key in [(false, e.pid as u32), (true, e.uid)] {
            match rows.iter_mut().find(|r| (r.0, r.1) == key) {
                Some(row) => {
                    row.2 += 1;
                    row.3 += bytes;
                }
                None => {
                    if rows.push((key.0, key.1, 1, bytes), GFP_KERNEL).is_err() {
                        return writeln!(f, "? out of memory");
                    }
                }
            }
        }
    }
    drop(registry);
    for user in [false, true] {
        let what = if user { "user" } else { "process" };
        for &(_, id, contexts, bytes) in rows.iter().filter(|r| r.0 == user) {
            writeln!(f, "{what} {id} contexts={contexts} pinned-bytes={bytes}")?;
        }
    }
    Ok(())
}
