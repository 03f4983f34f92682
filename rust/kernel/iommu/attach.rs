// SPDX-License-Identifier: GPL-2.0

//! Attachments of IOMMU domains made with an attach handle: the iommu core's record of
//! who attached a domain to a group (for the devices' requests without PASID) or to one
//! PASID of a device, which the core hands back to the attacher (its IO page fault
//! handler, the MSI set-up of iommufd's domains).
//!
//! An [`AttachHandle`] carries the attacher's data; an [`Attachment`] keeps the handle
//! and the domain while the target is attached, and detaches when dropped (or by
//! [`Attachment::detach`], which gives the handle back). [`Attachment::replace`] moves the
//! target to another domain without a moment in which its DMA is blocked.
//!
//! C header: [`include/linux/iommu.h`](srctree/include/linux/iommu.h)

use crate::{
    alloc::{Flags, KBox},
    bindings,
    device::Device,
    error::{to_result, Result},
    iommu::{domain::Domain, group::Group},
    prelude::*,
    sync::{aref::ARef, Arc},
    types::Opaque,
};

/// The iommu core's record of one attachment (`struct iommu_attach_handle`), with the
/// attacher's data.
///
/// # Invariants
///
/// `raw` is the first field of this `#[repr(C)]` struct, so a pointer to it is a pointer to
/// the handle.
#[repr(C)]
#[pin_data]
pub struct AttachHandle<T> {
    #[pin]
    raw: Opaque<bindings::iommu_attach_handle>,
    data: T,
}

// SAFETY: The core reads `raw` under the group's mutex, from any thread; the data is
// reached through `&self` only, so it is shared as `T` allows.
unsafe impl<T: Send> Send for AttachHandle<T> {}
// SAFETY: As above.
unsafe impl<T: Sync> Sync for AttachHandle<T> {}

impl<T> AttachHandle<T> {
    /// A new handle with `data`, not attached.
    ///
    /// # Errors
    ///
    /// `ENOMEM`.
    pub fn new(data: T, flags: Flags) -> Result<Pin<KBox<Self>>> {
        KBox::pin_init(
            pin_init!(Self {
                raw <- Opaque::zeroed(),
                data,
            }),
            flags,
        )
    }

    /// The attacher's data.
    pub fn data(&self) -> &T {
        &self.data
    }

    /// Whether `raw` is this handle (the core's pointer to it).
    pub fn is(&self, raw: *const bindings::iommu_attach_handle) -> bool {
        core::ptr::eq(self.raw.get(), raw)
    }

    fn as_raw(&self) -> *mut bindings::iommu_attach_handle {
        self.raw.get()
    }

    /// The handle the core's pointer `raw` names.
    ///
    /// # Safety
    ///
    /// `raw` is the core's pointer to an [`AttachHandle<T>`] of an attachment that stays
    /// for `'a` (the caller holds what keeps it: the group's mutex, or the IO page fault
    /// group that came through it).
    pub unsafe fn from_raw<'a>(raw: *const bindings::iommu_attach_handle) -> &'a Self {
        // SAFETY: By the type invariant `raw` is at offset 0 of the handle, valid for `'a`
        // by the caller's guarantee.
        unsafe { &*raw.cast::<Self>() }
    }
}

/// What a domain is attached to.
pub enum Target {
    /// Every device of a group, for requests without PASID (the RID).
    Group(ARef<Group>),
    /// One PASID of a device.
    Pasid(ARef<Device>, u32),
}

impl Target {
    /// Attaches `domain` with `handle` (`iommu_attach_group_handle()`,
    /// `iommu_attach_device_pasid()`).
    fn attach<T>(&self, domain: &Domain, handle: &AttachHandle<T>) -> Result {
        // SAFETY: The domain, the group and the device are valid; the handle is pinned and
        // outlives the attachment (the `Attachment` keeps it).
        to_result(unsafe {
            match self {
                Target::Group(group) => bindings::iommu_attach_group_handle(
                    domain.as_raw(),
                    group.as_raw(),
                    handle.as_raw(),
                ),
                Target::Pasid(dev, pasid) => bindings::iommu_attach_device_pasid(
                    domain.as_raw(),
                    dev.as_raw(),
                    *pasid,
                    handle.as_raw(),
                ),
            }
        })
    }

    /// Moves the attachment to `domain` with `handle` (`iommu_replace_group_handle()`,
    /// `iommu_replace_device_pasid()`).
    fn replace<T>(&self, domain: &Domain, handle: &AttachHandle<T>) -> Result {
        // SAFETY: As in `attach`.
        to_result(unsafe {
            match self {
                Target::Group(group) => bindings::iommu_replace_group_handle(
                    group.as_raw(),
                    domain.as_raw(),
                    handle.as_raw(),
                ),
                Target::Pasid(dev, pasid) => bindings::iommu_replace_device_pasid(
                    domain.as_raw(),
                    dev.as_raw(),
                    *pasid,
                    handle.as_raw(),
                ),
            }
        })
    }

    /// Detaches `domain`, attached with a handle (`iommu_detach_group_handle()`,
    /// `iommu_detach_device_pasid()`).
    ///
    /// # Safety
    ///
    /// The target is attached to `domain`.
    unsafe fn detach(&self, domain: &Domain) {
        // SAFETY: By the caller's guarantee.
        unsafe {
            match self {
                Target::Group(group) => {
                    bindings::iommu_detach_group_handle(domain.as_raw(), group.as_raw())
                }
                Target::Pasid(dev, pasid) => {
                    bindings::iommu_detach_device_pasid(domain.as_raw(), dev.as_raw(), *pasid)
                }
            }
        }
    }
}

/// A domain attached to a [`Target`] with an [`AttachHandle`]; detached when dropped.
///
/// A domain with an IO page fault handler ([`super::iopf`]) is attached only with handles
/// of the handler's type, which the handler then finds from the core's pointer.
///
/// # Invariants
///
/// While `handle` is `Some`, `target` is attached to `domain` with it: the core refers to
/// the handle until the detach, and the domain, which the `Arc` keeps, is valid.
pub struct Attachment<T: 'static> {
    target: Target,
    domain: Arc<Domain>,
    handle: Option<Pin<KBox<AttachHandle<T>>>>,
}

impl<T: 'static> Attachment<T> {
    /// Attaches `domain` to `target` with `handle`. The devices' DMA ownership must have
    /// been claimed ([`super::domain::DmaOwner`]).
    ///
    /// # Errors
    ///
    /// `EBUSY` if the target is attached to another domain already, `EINVAL` if the domain
    /// does not suit the devices or has an IO page fault handler for handles of another
    /// type ([`super::iopf`]), or what the driver returns.
    pub fn attach(
        target: Target,
        domain: &Arc<Domain>,
        handle: Pin<KBox<AttachHandle<T>>>,
    ) -> Result<Self> {
        Self::check(domain)?;
        target.attach(domain, &handle)?;
        // INVARIANT: Attached with `handle` just now.
        Ok(Self {
            target,
            domain: domain.clone(),
            handle: Some(handle),
        })
    }

    /// Moves the target to `domain`, with `handle`, without a moment in which its DMA is
    /// blocked; returns the old handle, which the core no longer refers to.
    ///
    /// # Errors
    ///
    /// As [`Attachment::attach`]; the target stays attached as it was.
    pub fn replace(
        &mut self,
        domain: &Arc<Domain>,
        handle: Pin<KBox<AttachHandle<T>>>,
    ) -> Result<Pin<KBox<AttachHandle<T>>>> {
        Self::check(domain)?;
        self.target.replace(domain, &handle)?;
        // INVARIANT: Attached to `domain` with `handle` now.
        self.domain = domain.clone();
        self.handle.replace(handle).ok_or(EINVAL)
    }

    /// Refuses a domain whose IO page fault handler takes handles of another type.
    fn check(domain: &Domain) -> Result {
        if domain.takes_handle_data(core::any::TypeId::of::<T>()) {
            Ok(())
        } else {
            Err(EINVAL)
        }
    }

    /// The handle of the attachment.
    pub fn handle(&self) -> Option<&AttachHandle<T>> {
        self.handle.as_deref()
    }

    /// The domain attached.
    pub fn domain(&self) -> &Arc<Domain> {
        &self.domain
    }

    /// Detaches; returns the handle, which the core no longer refers to.
    pub fn detach(mut self) -> Option<Pin<KBox<AttachHandle<T>>>> {
        self.detach_now()
    }

    fn detach_now(&mut self) -> Option<Pin<KBox<AttachHandle<T>>>> {
        let handle = self.handle.take()?;
        // SAFETY: The handle was `Some`, so the target is attached to `domain` (type
        // invariant); the handle is dropped only after the detach.
        unsafe { self.target.detach(&self.domain) };
        Some(handle)
    }
}

impl<T: 'static> Drop for Attachment<T> {
    fn drop(&mut self) {
        drop(self.detach_now());
    }
}

#[macros::kunit_tests(rust_kernel_iommu_attach)]
mod tests {
    use super::*;
    use crate::alloc::flags::GFP_KERNEL;

    #[test]
    fn handle_carries_data_and_is_found_from_the_core_pointer() -> Result {
        let first = AttachHandle::new(41u64, GFP_KERNEL)?;
        let second = AttachHandle::new(42u64, GFP_KERNEL)?;
        assert_eq!(*first.data(), 41);
        // What the core keeps and hands back: a pointer to the C handle.
        let raw = first.as_raw().cast_const();
        assert!(first.is(raw));
        assert!(!second.is(raw));
        // SAFETY: `raw` is the handle `first`, alive while it is used.
        let found = unsafe { AttachHandle::<u64>::from_raw(raw) };
        assert_eq!(*found.data(), 41);
        assert!(core::ptr::eq(found, &*first));
        Ok(())
    }
}
