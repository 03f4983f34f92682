// SPDX-License-Identifier: GPL-2.0

//! The context of one open `/dev/iommu`.
//!
//! A context is created by `open()` and lives until the last reference to the file is
//! dropped. It owns every object created through the file; closing the file destroys them
//! all, users before what they use ([`ObjectTable::destroy_all`]).

use core::{ops::Deref, ptr::NonNull};
use kernel::{
    bindings,
    fs::File,
    miscdevice::{MiscDevice, MiscDeviceRegistration},
    mm::virt::VmaNew,
    new_mutex,
    prelude::*,
    seq_file::SeqFile,
    seq_print,
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
        Arc, Mutex,
    },
};

use crate::{
    kinds::ObjectKind,
    mmap::MmapTable,
    object::ObjectTable,
    pagetable::view::pinned_bytes,
    system::group::GroupTable,
    ucmd::{self, UCmd},
};

/// Whose `RLIMIT_MEMLOCK` pinned pages are charged to (`IOMMU_OPTION_RLIMIT_MODE`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum AccountMode {
    /// The user of the process that pins (the default of `/dev/iommu`).
    User,
    /// The mm of the process that pins (as VFIO type1 does).
    Mm,
}

/// One open file of `/dev/iommu`.
#[pin_data(PinnedDrop)]
pub(crate) struct IommufdCtx {
    /// Every object of this file, by id. Shared with the internal accesses of its HW
    /// queues, which hold the table but not the file (see [`ObjectTable::destroy_all`]).
    pub(crate) objects: Arc<ObjectTable>,
    /// True for [`AccountMode::Mm`]. Changed only while `objects` is empty, under its lock.
    account_mm: Atomic<bool>,
    /// Serialises `IOMMU_IOAS_CHANGE_PROCESS`.
    #[pin]
    pub(crate) change_process_lock: Mutex<()>,
    /// The IOMMU groups of the bound devices (the system layer's data).
    #[pin]
    pub(crate) groups: GroupTable,
    /// The regions drivers expose for `mmap()`.
    #[pin]
    pub(crate) mmaps: MmapTable,
    /// The `/dev/iommu` device: dma-bufs are attached on its behalf.
    pub(crate) dev: ARef<kernel::device::Device>,
    /// The file whose private data the context is.
    file: OwnFile,
    /// Its directory in debugfs, removed before its objects are destroyed.
    debugfs: crate::debugfs::CtxDir,
}

/// The `struct file` of an open `/dev/iommu` (or `/dev/vfio/vfio`), as its context keeps it.
///
/// # Invariants
///
/// Points to the file whose private data the context holding this is: the file is released
/// only after the context is dropped, so it is valid for as long as the context.
struct OwnFile(NonNull<bindings::file>);

// SAFETY: The pointer is only used to take references on the file (`get_file`), which any
// thread may do.
unsafe impl Send for OwnFile {}
// SAFETY: As for `Send`: `&OwnFile` only lets one take references on the file.
unsafe impl Sync for OwnFile {}

impl IommufdCtx {
    /// Where pinned pages are charged.
    pub(crate) fn account_mode(&self) -> AccountMode {
        if self.account_mm.load(Relaxed) {
            AccountMode::Mm
        } else {
            AccountMode::User
        }
    }

    /// Changes where pinned pages are charged: `val` 0 for [`AccountMode::User`], 1 for
    /// [`AccountMode::Mm`]. Allowed only while the context has no objects (nor objects under
    /// construction).
    ///
    /// # Errors
    ///
    /// `EBUSY` if the context has objects (checked first, as C does), else `EINVAL` for any
    /// other `val`.
    pub(crate) fn set_account_mode(&self, val: u64) -> Result {
        self.objects.with_emptiness(|empty| {
            if !empty {
                return Err(EBUSY);
            }
            let mm = match val {
                0 => false,
                1 => true,
                _ => return Err(EINVAL),
            };
            self.account_mm.store(mm, Relaxed);
            Ok(())
        })
    }
}

#[vtable]
impl MiscDevice for IommufdCtx {
    type Ptr = Pin<KBox<Self>>;

    fn open(file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<Pin<KBox<Self>>> {
        // dma-bufs are imported as `/dev/iommu`'s device, also through `/dev/vfio/vfio`,
        // as C does.
        let dev: ARef<kernel::device::Device> =
            crate::kapi::iommu_device().unwrap_or_else(|| misc.device().into());
        // VFIO's container charges pinned pages to the mm; so does its emulation.
        let account_mm = crate::kapi::is_vfio_container(misc);
        let objects = Arc::pin_init(ObjectTable::new(), GFP_KERNEL_ACCOUNT)?;
        KBox::try_pin_init(
            try_pin_init!(Self {
                debugfs: crate::debugfs::CtxDir::create(&objects),
                objects,
                account_mm: Atomic::new(account_mm),
                change_process_lock <- new_mutex!(()),
                groups <- GroupTable::new(),
                mmaps <- MmapTable::new(),
                dev,
                // INVARIANT: The context becomes the private data of `file`.
                file: OwnFile(NonNull::from(file).cast()),
            }),
            GFP_KERNEL_ACCOUNT,
        )
    }

    fn ioctl(me: Pin<&Self>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        ucmd::dispatch(&me, cmd, arg)
    }

    fn mmap(me: Pin<&Self>, _file: &File, vma: &VmaNew) -> Result {
        me.mmaps.mmap(vma)
    }

    /// `/proc/PID/fdinfo/N`: how many objects of each kind the context holds and how much
    /// memory it pins (each page once, whatever shares it), one `key:\tvalue` a line
    /// (Documentation/iommufd-rs/observability.rst).
    fn show_fdinfo(me: Pin<&Self>, m: &SeqFile, _file: &File) {
        let counts = me.objects.count_kinds();
        seq_print!(m, "iommufd-objects:\t{}\n", counts.iter().sum::<usize>());
        for (name, n) in ObjectKind::NAMES.iter().zip(counts) {
            seq_print!(m, "iommufd-{}:\t{}\n", name, n);
        }
        match pinned_bytes(&me.objects) {
            Some(bytes) => seq_print!(m, "iommufd-pinned-bytes:\t{}\n", bytes),
            // Out of memory for the tally: say so rather than print a wrong number.
            None => seq_print!(m, "iommufd-pinned-bytes:\t?\n"),
        }
    }
}

#[pinned_drop]
impl PinnedDrop for IommufdCtx {
    fn drop(self: Pin<&mut Self>) {
        let this = self.project();
        // No reader of the directory may see the objects go.
        this.debugfs.remove();
        this.objects.destroy_all();
    }
}

/// A reference on a context that keeps it alive: C's `iommufd_ctx_get()`.
///
/// It holds a reference on the context's file, whose private data the context is, so the
/// context lives at least as long. In-kernel users (accesses, later bound devices) hold one.
///
/// # Invariants
///
/// `ctx` is the private data of an open `/dev/iommu` file: `file` if it is `Some`; for an
/// uncounted reference, a file that is released only after the reference is dropped.
pub(crate) struct CtxRef {
    /// `None` for a reference that does not count ([`CtxRef::new_uncounted`]).
    file: Option<ARef<File>>,
    ctx: NonNull<IommufdCtx>,
}

// SAFETY: The context is `Sync` and a file reference may be dropped on any thread.
unsafe impl Send for CtxRef {}
// SAFETY: Only `&IommufdCtx` is handed out, and the context is `Sync`.
unsafe impl Sync for CtxRef {}

impl IommufdCtx {
    /// The file whose private data the context is.
    pub(crate) fn file(&self) -> &File {
        // SAFETY: By the invariant of `OwnFile` the file is valid for as long as `self`.
        unsafe { File::from_raw_file(self.file.0.as_ptr()) }
    }
}

impl CtxRef {
    /// A reference on the context of the ioctl `ucmd`.
    pub(crate) fn new(ucmd: &UCmd<'_>) -> Self {
        Self::of(ucmd.ctx)
    }

    /// A new reference on `ctx` (C's `iommufd_ctx_get()`).
    pub(crate) fn of(ctx: &IommufdCtx) -> Self {
        // INVARIANT: `ctx` is the private data of its own file.
        Self {
            file: Some(ARef::from(ctx.file())),
            ctx: NonNull::from(ctx),
        }
    }

    /// A reference on the context of the ioctl `ucmd` that does not keep it alive: for
    /// objects of the context that hold the context, which would otherwise keep their own
    /// file open forever (C's mock devices do not take a context reference either).
    ///
    /// # Safety
    ///
    /// The reference, and every clone of it, is dropped before the context's objects are
    /// (at the latest when the file is closed).
    pub(crate) unsafe fn new_uncounted(ucmd: &UCmd<'_>) -> Self {
        // INVARIANT: The ioctl's context; the caller guarantees it outlives the reference.
        Self {
            file: None,
            ctx: NonNull::from(ucmd.ctx),
        }
    }
}

impl Clone for CtxRef {
    fn clone(&self) -> Self {
        // INVARIANT: The same context and file.
        Self {
            file: self.file.clone(),
            ctx: self.ctx,
        }
    }
}

impl Deref for CtxRef {
    type Target = IommufdCtx;

    fn deref(&self) -> &IommufdCtx {
        // SAFETY: By the type invariant `ctx` is the private data of `file`, freed only when
        // the file is released, which the reference in `self.file` prevents (or, for an
        // uncounted reference, which happens only after it is dropped).
        unsafe { self.ctx.as_ref() }
    }
}
