// SPDX-License-Identifier: GPL-2.0

//! Files without a path, on the shared anonymous inode (`anon_inode_getfile`).
//!
//! A driver hands such a file to user space as a handle on a kernel object: an event queue,
//! a test accessor. The file's private data is a [`ForeignOwnable`] the driver gives at
//! creation and gets back, dropped, when the last reference to the file goes.
//!
//! The file operations are a `static` of the driver's module ([`AnonFileOps::new`] is a
//! `const fn`), so they can name the module as their owner: while such a file is open the
//! module cannot be unloaded.
//!
//! C header: [`include/linux/anon_inodes.h`](srctree/include/linux/anon_inodes.h).

use crate::{
    bindings,
    fs::{File, LocalFile},
    prelude::*,
    sync::aref::ARef,
    types::ForeignOwnable,
    ThisModule,
};
use core::{marker::PhantomData, ptr::NonNull};

/// The file operations of anonymous files whose private data is a `T`.
///
/// Only `release` is provided: it drops the private data.
pub struct AnonFileOps<T: ForeignOwnable + Send + Sync> {
    fops: bindings::file_operations,
    _p: PhantomData<T>,
}

// SAFETY: The operations table is never written after its constant initialisation; the
// private data is `Send + Sync`, so the files may be used and released on any thread.
unsafe impl<T: ForeignOwnable + Send + Sync> Sync for AnonFileOps<T> {}

impl<T: ForeignOwnable + Send + Sync> AnonFileOps<T> {
    /// Operations owned by `owner` (normally `&THIS_MODULE`).
    pub const fn new(owner: &'static ThisModule) -> Self {
        // SAFETY: All-zero is a valid `file_operations`: every callback absent.
        let mut fops: bindings::file_operations = unsafe { core::mem::zeroed() };
        fops.owner = owner.as_ptr();
        fops.release = Some(Self::release);
        Self {
            fops,
            _p: PhantomData,
        }
    }

    /// # Safety
    ///
    /// Called by the VFS once, when the last reference to a file of these operations goes.
    unsafe extern "C" fn release(_inode: *mut bindings::inode, file: *mut bindings::file) -> i32 {
        // SAFETY: The file is valid during its release; its private data was set by
        // `create` from `T::into_foreign` and is taken back exactly once, here.
        drop(unsafe { T::from_foreign((*file).private_data) });
        0
    }

    /// A new anonymous file named `name` (shown as `anon_inode:NAME`), opened with `flags`
    /// (`O_RDWR`, ...), holding `data`.
    ///
    /// # Errors
    ///
    /// As `anon_inode_getfile` fails (`ENOMEM`, `ENOENT` if the owner is going away); `data`
    /// is dropped then.
    pub fn create(&'static self, name: &CStr, data: T, flags: u32) -> Result<ARef<File>> {
        let ptr = data.into_foreign();
        // SAFETY: `name` is a valid C string, the operations are static, and `ptr` stays
        // valid until `release` takes it back (or it is taken back below on failure).
        let file = unsafe {
            bindings::anon_inode_getfile(name.as_char_ptr(), &self.fops, ptr, flags as i32)
        };
        if let Err(e) = crate::error::from_err_ptr(file) {
            // SAFETY: The file was not created, so `ptr` is still ours to take back.
            drop(unsafe { T::from_foreign(ptr) });
            return Err(e);
        }
        // SAFETY: `anon_inode_getfile` returned a new file with one reference, which the
        // `ARef` takes over; `File` is a transparent wrapper of `struct file`.
        Ok(unsafe { ARef::from_raw(NonNull::new_unchecked(file.cast::<File>())) })
    }

    /// The private data of `file`, if it is one of these operations' files.
    pub fn data<'a>(&'static self, file: &'a LocalFile) -> Option<T::Borrowed<'a>> {
        // SAFETY: `file` is valid; `f_op` does not change while it is open.
        let (fop, data) = unsafe { ((*file.as_ptr()).f_op, (*file.as_ptr()).private_data) };
        if !core::ptr::eq(fop, &self.fops) {
            return None;
        }
        // SAFETY: The file is ours, so `data` came from `T::into_foreign` and is released
        // only when the file is, which `&'a File` prevents for `'a`.
        Some(unsafe { T::borrow(data) })
    }
}
