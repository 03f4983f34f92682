// SPDX-License-Identifier: GPL-2.0

//! Fault injection points (`CONFIG_FAULT_INJECTION`): a named attribute in debugfs whose
//! settings (probability, interval, times, or a task's `fail-nth`) decide when
//! [`FaultAttr::should_fail`] says yes, so that tests reach error paths.
//!
//! C header: [`include/linux/fault-inject.h`](srctree/include/linux/fault-inject.h).
#![cfg(CONFIG_FAULT_INJECTION)]

use crate::{bindings, prelude::*, str::CStr, types::Opaque};

/// A fault injection attribute (`struct fault_attr`), meant to be a `static` of the module
/// that uses it.
///
/// # Invariants
///
/// Once [`FaultAttr::register`] initialised it, `attr` is a valid attribute, shown in
/// debugfs until the returned [`Registration`] is dropped.
pub struct FaultAttr {
    attr: Opaque<bindings::fault_attr>,
}

// SAFETY: The fault injection core serialises its own updates of the attribute (atomic
// counters, debugfs writes).
unsafe impl Sync for FaultAttr {}

impl FaultAttr {
    /// An attribute to be registered.
    pub const fn new() -> Self {
        Self {
            attr: Opaque::uninit(),
        }
    }

    /// Initialises the attribute as `DECLARE_FAULT_ATTR` does and shows it in debugfs as
    /// `name`, until the result is dropped.
    ///
    /// # Errors
    ///
    /// `ENOMEM` and as debugfs fails.
    ///
    /// # Safety
    ///
    /// Called once before any [`FaultAttr::should_fail`], and not again until the result
    /// is dropped.
    pub unsafe fn register(&'static self, name: &'static CStr) -> Result<Registration> {
        // SAFETY: By the caller's guarantee nothing uses the attribute yet.
        unsafe { bindings::fault_attr_init(self.attr.get()) };
        #[cfg(CONFIG_FAULT_INJECTION_DEBUG_FS)]
        let dentry = {
            // SAFETY: The attribute is initialised and static; the name is static.
            let dentry = unsafe {
                bindings::fault_create_debugfs_attr(
                    name.as_char_ptr(),
                    core::ptr::null_mut(),
                    self.attr.get(),
                )
            };
            crate::error::from_err_ptr(dentry)?
        };
        // Without debugfs the attribute keeps its defaults and never fails, as with C's
        // stub of `fault_create_debugfs_attr()`.
        #[cfg(not(CONFIG_FAULT_INJECTION_DEBUG_FS))]
        let _ = name;
        Ok(Registration {
            #[cfg(CONFIG_FAULT_INJECTION_DEBUG_FS)]
            dentry,
        })
    }

    /// Whether the next point should fail, for a request of `size` (C's `should_fail()`).
    pub fn should_fail(&'static self, size: isize) -> bool {
        // SAFETY: Registered before use (see `register`); the core reads it atomically.
        unsafe { bindings::should_fail(self.attr.get(), size) }
    }
}

impl Default for FaultAttr {
    fn default() -> Self {
        Self::new()
    }
}

/// The debugfs entry of a registered attribute (none without
/// `CONFIG_FAULT_INJECTION_DEBUG_FS`); removed on drop.
pub struct Registration {
    #[cfg(CONFIG_FAULT_INJECTION_DEBUG_FS)]
    dentry: *mut bindings::dentry,
}

// SAFETY: The dentry may be removed from any thread.
unsafe impl Send for Registration {}
// SAFETY: Nothing is reached through `&Registration`.
unsafe impl Sync for Registration {}

impl Drop for Registration {
    fn drop(&mut self) {
        #[cfg(CONFIG_FAULT_INJECTION_DEBUG_FS)]
        // SAFETY: Created by `fault_create_debugfs_attr`, removed once, here.
        unsafe {
            bindings::debugfs_remove(self.dentry)
        };
    }
}
