// SPDX-License-Identifier: GPL-2.0

//! IOMMU groups: the smallest sets of devices the IOMMU can isolate from each other.
//!
//! C header: [`include/linux/iommu.h`](srctree/include/linux/iommu.h)

use crate::{
    bindings,
    device::Device,
    error::{to_result, Result},
    iommu::domain::Domain,
    sync::aref::{ARef, AlwaysRefCounted},
    types::Opaque,
};
use core::ptr::NonNull;

/// An IOMMU group (`struct iommu_group`).
///
/// # Invariants
///
/// Instances are only created through [`ARef`]s that hold a reference on the group
/// (`iommu_group_get`/`iommu_group_ref_get`), so the group is valid while they live.
#[repr(transparent)]
pub struct Group(Opaque<bindings::iommu_group>);

// SAFETY: Groups are reference counted with `iommu_group_ref_get`/`iommu_group_put`, which
// may run on any thread.
unsafe impl AlwaysRefCounted for Group {
    fn inc_ref(&self) {
        // SAFETY: The group is valid by the type invariant.
        unsafe { bindings::iommu_group_ref_get(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives up a reference it holds.
        unsafe { bindings::iommu_group_put(obj.cast().as_ptr()) };
    }
}

// SAFETY: A group is a kernel object shared between threads; its state is protected by its
// own mutex.
unsafe impl Send for Group {}

// SAFETY: As above: every operation provided through `&Group` locks the group in C.
unsafe impl Sync for Group {}

impl Group {
    /// The group of `dev`, or `None` if no IOMMU translates for it.
    pub fn of(dev: &Device) -> Option<ARef<Self>> {
        // SAFETY: `dev` is valid for the call.
        let ptr = unsafe { bindings::iommu_group_get(dev.as_raw()) };
        let ptr = NonNull::new(ptr.cast::<Self>())?;
        // SAFETY: `iommu_group_get` took a reference, which the `ARef` now owns.
        Some(unsafe { ARef::from_raw(ptr) })
    }

    /// The group, for C.
    pub fn as_raw(&self) -> *mut bindings::iommu_group {
        self.0.get()
    }

    /// The group's id.
    pub fn id(&self) -> i32 {
        // SAFETY: The group is valid.
        unsafe { bindings::iommu_group_id(self.as_raw()) }
    }

    /// Whether the group's interrupts are isolated: a device cannot forge MSIs of other
    /// devices.
    pub fn has_isolated_msi(&self) -> bool {
        // SAFETY: The group is valid.
        unsafe { bindings::iommu_group_has_isolated_msi(self.as_raw()) }
    }

    /// Attaches every device of the group to `domain`. The group's DMA ownership must have
    /// been claimed ([`super::domain::DmaOwner`]).
    ///
    /// # Errors
    ///
    /// `EBUSY` if the group is attached to another domain already, `EINVAL` if the domain
    /// is not compatible with the devices, or what the driver returns.
    pub fn attach(&self, domain: &Domain) -> Result {
        // SAFETY: Both are valid.
        to_result(unsafe { bindings::iommu_attach_group(domain.as_raw(), self.as_raw()) })
    }

    /// Detaches the group from `domain`, to which it is attached.
    pub fn detach(&self, domain: &Domain) {
        // SAFETY: Both are valid; the caller attached the group to the domain.
        unsafe { bindings::iommu_detach_group(domain.as_raw(), self.as_raw()) };
    }
}
