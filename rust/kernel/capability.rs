// SPDX-License-Identifier: GPL-2.0

//! POSIX capabilities of the current task.
//!
//! C header: [`include/linux/capability.h`](srctree/include/linux/capability.h).

use crate::bindings;

/// A capability, as numbered in `include/uapi/linux/capability.h`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(transparent)]
pub struct Capability(i32);

impl Capability {
    /// `CAP_IPC_LOCK`: lock memory beyond `RLIMIT_MEMLOCK`.
    pub const IPC_LOCK: Self = Self(bindings::CAP_IPC_LOCK as i32);
    /// `CAP_SYS_RESOURCE`: override resource limits.
    pub const SYS_RESOURCE: Self = Self(bindings::CAP_SYS_RESOURCE as i32);
    /// `CAP_SYS_ADMIN`.
    pub const SYS_ADMIN: Self = Self(bindings::CAP_SYS_ADMIN as i32);
    /// `CAP_SYS_RAWIO`.
    pub const SYS_RAWIO: Self = Self(bindings::CAP_SYS_RAWIO as i32);
}

/// Returns true if the current task has `cap` in its effective set (C `capable()`).
///
/// Like the C function, a successful check marks the task as having used the capability
/// (`PF_SUPERPRIV`), and the LSMs are consulted.
pub fn capable(cap: Capability) -> bool {
    // SAFETY: `capable` only reads the current task's credentials, which is always valid in
    // process context; any integer is accepted (invalid ones are reported and refused).
    unsafe { bindings::capable(cap.0) }
}
