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
    sync::{aref::ARef, poll::PollTable, Arc},
    types::ForeignOwnable,
    uaccess::{UserPtr, UserSlice, UserSliceReader, UserSliceWriter},
    ThisModule,
};
use core::{marker::PhantomData, ptr::NonNull};

/// What an anonymous file with [`AnonFileOps::with_io`] does on `read`, `write` and
/// `poll`. The files are not seekable: `pos` is the position the VFS passes, which callers
/// usually require to be 0.
pub trait FileIo: Send + Sync {
    /// Reads into `writer` (the user's buffer); returns the bytes written to it.
    ///
    /// # Errors
    ///
    /// What the file reports; an error after some bytes were written should instead
    /// return the count, as `read(2)` does.
    fn read(&self, writer: &mut UserSliceWriter, pos: i64) -> Result<usize>;

    /// Writes from `reader` (the user's buffer); returns the bytes consumed.
    ///
    /// # Errors
    ///
    /// What the file reports (as for [`FileIo::read`]).
    fn write(&self, reader: &mut UserSliceReader, pos: i64) -> Result<usize>;

    /// Registers `table` on the file's wait queues and returns the ready events
    /// (`EPOLLIN`, ...).
    fn poll(&self, file: &File, table: PollTable<'_>) -> u32;
}

/// The file operations of anonymous files whose private data is a `T`.
///
/// [`AnonFileOps::new`] provides only `release`, which drops the private data;
/// [`AnonFileOps::with_io`] adds `read`, `write` and `poll` through [`FileIo`].
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

    /// Converts a user count and a `read`/`write` result to what the VFS expects.
    fn ret(r: Result<usize>) -> isize {
        match r {
            // A count fits in `isize`: the VFS caps I/O sizes at `MAX_RW_COUNT`.
            Ok(n) => n as isize,
            Err(e) => e.to_errno() as isize,
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

impl<U: FileIo + 'static> AnonFileOps<Arc<U>> {
    /// Operations owned by `owner` with `read`, `write` and `poll` of `U` (and
    /// `nonseekable_open` semantics: the VFS passes positions the file ignores or refuses).
    pub const fn with_io(owner: &'static ThisModule) -> Self {
        let mut this = Self::new(owner);
        this.fops.read = Some(Self::read);
        this.fops.write = Some(Self::write);
        this.fops.poll = Some(Self::poll);
        this
    }

    /// The private data of a file of these operations.
    ///
    /// # Safety
    ///
    /// `file` is a valid, open file of these operations.
    unsafe fn io<'a>(file: *mut bindings::file) -> &'a U {
        // SAFETY: The file is open, so its private data from `Arc::into_foreign` is valid
        // until `release`, which cannot run during a file operation.
        let data = unsafe { <Arc<U> as ForeignOwnable>::borrow((*file).private_data) };
        // SAFETY: As above, the `Arc` lives at least as long as the operation.
        unsafe { &*core::ptr::from_ref::<U>(&data) }
    }

    /// # Safety
    ///
    /// Called by the VFS with a valid open file of these operations and a user buffer.
    unsafe extern "C" fn read(
        file: *mut bindings::file,
        buf: *mut crate::ffi::c_char,
        count: usize,
        ppos: *mut bindings::loff_t,
    ) -> isize {
        // SAFETY: By the function's safety requirements.
        let io = unsafe { Self::io(file) };
        let mut writer = UserSlice::new(UserPtr::from_addr(buf as usize), count).writer();
        // SAFETY: The VFS passes a valid position.
        Self::ret(io.read(&mut writer, unsafe { *ppos }))
    }

    /// # Safety
    ///
    /// Called by the VFS with a valid open file of these operations and a user buffer.
    unsafe extern "C" fn write(
        file: *mut bindings::file,
        buf: *const crate::ffi::c_char,
        count: usize,
        ppos: *mut bindings::loff_t,
    ) -> isize {
        // SAFETY: By the function's safety requirements.
        let io = unsafe { Self::io(file) };
        let mut reader = UserSlice::new(UserPtr::from_addr(buf as usize), count).reader();
        // SAFETY: The VFS passes a valid position.
        Self::ret(io.write(&mut reader, unsafe { *ppos }))
    }

    /// # Safety
    ///
    /// Called by the VFS with a valid open file of these operations.
    unsafe extern "C" fn poll(
        file: *mut bindings::file,
        wait: *mut bindings::poll_table_struct,
    ) -> bindings::__poll_t {
        // SAFETY: By the function's safety requirements.
        let io = unsafe { Self::io(file) };
        // SAFETY: The VFS passes a valid poll table (or null) for the call.
        let table = unsafe { PollTable::from_raw(wait) };
        // SAFETY: The file is valid for the call; `File` is transparent over it.
        let f = unsafe { File::from_raw_file(file) };
        io.poll(f, table)
    }
}
