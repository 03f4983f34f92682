// SPDX-License-Identifier: GPL-2.0

//! Functions of other modules, looked up by name while used (`symbol_get()`).
//!
//! A module that must not depend on another at link time (because that one links against
//! it, say) can still call the other's exported functions: [`Symbol::get`] finds one by
//! name and holds its module, so that it cannot be unloaded, until the [`Symbol`] is
//! dropped.
//!
//! C header: [`include/linux/module.h`](srctree/include/linux/module.h)

use crate::{
    bindings,
    str::{CStr, CStrExt},
};
use core::ffi::c_void;

/// An exported function of another module, and a reference on that module.
///
/// # Invariants
///
/// `func` is the symbol `name`, found by `__symbol_get()`, whose reference on its module
/// this object owns until it is dropped.
pub struct Symbol<F: Copy> {
    name: &'static CStr,
    func: F,
}

impl<F: Copy> Symbol<F> {
    /// The exported symbol `name` of a loaded module (or of the kernel image); `None` if no
    /// live module exports it.
    ///
    /// # Safety
    ///
    /// `F` must be a function pointer type (`unsafe extern "C" fn(...) -> ...`) of the
    /// symbol's C declaration.
    pub unsafe fn get(name: &'static CStr) -> Option<Self> {
        const {
            assert!(core::mem::size_of::<F>() == core::mem::size_of::<*mut c_void>());
        }
        // SAFETY: Looks the symbol up by name; a found one comes with a reference on its
        // module.
        let sym = unsafe { bindings::__symbol_get(name.as_char_ptr()) };
        if sym.is_null() {
            return None;
        }
        // SAFETY: The caller guarantees that `F` is a function pointer of the symbol's
        // type, of the size of a pointer (checked above).
        let func = unsafe { core::mem::transmute_copy::<*mut c_void, F>(&sym) };
        // INVARIANT: Found above, with its module reference.
        Some(Self { name, func })
    }

    /// The function. It stays valid while `self` lives (its module cannot go): calling a
    /// copy of it after `self` is dropped is not.
    pub fn func(&self) -> F {
        self.func
    }
}

impl<F: Copy> Drop for Symbol<F> {
    fn drop(&mut self) {
        // SAFETY: Drops the module reference taken in `get` (type invariant), once.
        unsafe { bindings::__symbol_put(self.name.as_char_ptr()) };
    }
}

#[macros::kunit_tests(rust_kernel_symbol)]
mod tests {
    use super::*;
    use crate::{
        error::{code::ENOENT, Result},
        time::{msecs_to_jiffies, Jiffies, NSEC_PER_SEC},
    };

    /// `unsigned long nsecs_to_jiffies(u64 n)`, a GPL export of the kernel image.
    type NsecsToJiffies = unsafe extern "C" fn(u64) -> Jiffies;

    #[test]
    fn calls_an_exported_function() -> Result {
        // SAFETY: `NsecsToJiffies` is the C signature of `nsecs_to_jiffies`.
        let sym = unsafe { Symbol::<NsecsToJiffies>::get(c"nsecs_to_jiffies") }.ok_or(ENOENT)?;
        // SAFETY: Any value may be passed; `sym` holds the function's home meanwhile.
        let jiffies = unsafe { (sym.func())(NSEC_PER_SEC as u64) };
        assert_eq!(jiffies, msecs_to_jiffies(1000));
        Ok(())
    }

    #[test]
    fn finds_no_missing_symbol() {
        // SAFETY: No function of that name exists, so none is called.
        let sym = unsafe { Symbol::<NsecsToJiffies>::get(c"rust_kernel_symbol_no_such_fn") };
        assert!(sym.is_none());
    }
}
