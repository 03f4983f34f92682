// SPDX-License-Identifier: GPL-2.0

//! The groups of bound devices, and what each group is attached to.
//!
//! The iommu core attaches a domain to a whole IOMMU group, while iommufd attaches
//! devices. One [`IGroup`] per IOMMU group and context records which devices of the group
//! asked for the attachment: the first attaches the group, later ones of the same group
//! must ask for the same HWPT (`EINVAL` otherwise, as in C), and the last to detach
//! detaches the group.
//!
//! # Ownership
//!
//! A context's [`GroupTable`] holds its groups; each bound device holds its group as
//! well (a [`GroupHold`]), and the last device to go removes it.
//! While a group is attached it holds one user of the HWPT per attached device, so the HWPT
//! cannot be destroyed under them (`EBUSY`).
//!
//! # Locking
//!
//! `IGroup::state` is taken before `IoPageTable::state` (an attach fills the domain).
//! The table's mutex is never held across anything else.

use kernel::{
    bindings,
    error::to_result,
    iommu::group::Group,
    new_mutex,
    prelude::*,
    sync::{aref::ARef, Arc, Mutex},
    types::Opaque,
};

use crate::{ctx::CtxRef, object::ObjectType, pagetable::hwpt::HwptPaging};

/// The iommu core's record of an attachment, which it keeps until the detach.
///
/// # Invariants
///
/// Boxed, so its address stays fixed while the core holds it.
struct AttachHandle {
    handle: Opaque<bindings::iommu_attach_handle>,
}

// SAFETY: The handle is data the iommu core reads under the group's lock; it is not tied
// to a thread.
unsafe impl Send for AttachHandle {}
// SAFETY: Nothing is reached through `&AttachHandle` but its address.
unsafe impl Sync for AttachHandle {}

impl AttachHandle {
    fn new() -> Result<KBox<Self>> {
        Ok(KBox::new(
            Self {
                handle: Opaque::zeroed(),
            },
            GFP_KERNEL_ACCOUNT,
        )?)
    }
}

/// What an attached group is attached to.
struct Attached {
    hwpt: Arc<HwptPaging>,
    handle: KBox<AttachHandle>,
    /// The attached devices of the group (each holds a user of `hwpt`).
    devices: u32,
}

/// What [`IGroup::state`] protects.
struct IGroupState {
    attached: Option<Attached>,
    /// Bound devices holding the group (under the table's lock, not this one).
    bound: u32,
}

/// The bound devices of one IOMMU group in one context.
#[pin_data]
pub(crate) struct IGroup {
    /// The IOMMU group.
    pub(crate) group: ARef<Group>,
    #[pin]
    state: Mutex<IGroupState>,
}

impl IGroup {
    /// Attaches one device of the group to `hwpt`; the first attaches the group.
    ///
    /// # Errors
    ///
    /// `EINVAL` if the group is attached to another HWPT or the domain does not suit the
    /// group, as the iommu core fails, `ENOMEM`.
    pub(crate) fn attach(&self, hwpt: &Arc<HwptPaging>) -> Result {
        let mut state = self.state.lock();
        if let Some(attached) = state.attached.as_mut() {
            if !Arc::ptr_eq(&attached.hwpt, hwpt) {
                return Err(EINVAL);
            }
            hwpt.header().add_user();
            attached.devices += 1;
            return Ok(());
        }
        let handle = AttachHandle::new()?;
        // SAFETY: The domain and the group are valid; the handle is boxed, and stays until
        // the group is detached (`detach`) or moved to another handle (`replace`).
        to_result(unsafe {
            bindings::iommu_attach_group_handle(
                hwpt.domain.as_raw(),
                self.group.as_raw(),
                handle.handle.get(),
            )
        })?;
        hwpt.header().add_user();
        state.attached = Some(Attached {
            hwpt: hwpt.clone(),
            handle,
            devices: 1,
        });
        Ok(())
    }

    /// Detaches one device of the group; the last detaches the group. Returns the HWPT,
    /// whose user the device held, for the caller to release (and destroy if automatic)
    /// without the group's lock.
    pub(crate) fn detach(&self) -> Option<Arc<HwptPaging>> {
        let mut state = self.state.lock();
        let attached = state.attached.as_mut()?;
        attached.devices -= 1;
        if attached.devices != 0 {
            return Some(attached.hwpt.clone());
        }
        let attached = state.attached.take()?;
        // SAFETY: The group is attached to the domain with the handle we keep, which is
        // freed only after this returns.
        unsafe {
            bindings::iommu_detach_group_handle(attached.hwpt.domain.as_raw(), self.group.as_raw())
        };
        drop(attached.handle);
        Some(attached.hwpt)
    }

    /// Moves the group from its HWPT to `hwpt` without a moment in which its DMA is
    /// unmapped. Returns the old HWPT, whose users (one per attached device) the caller
    /// releases; returns `None` if `hwpt` is the current one.
    ///
    /// # Errors
    ///
    /// `EINVAL` if the group is not attached or the domain does not suit it, `ENOMEM`. The
    /// group stays on its old HWPT on error.
    pub(crate) fn replace(&self, hwpt: &Arc<HwptPaging>) -> Result<Option<(Arc<HwptPaging>, u32)>> {
        let mut state = self.state.lock();
        let attached = state.attached.as_mut().ok_or(EINVAL)?;
        if Arc::ptr_eq(&attached.hwpt, hwpt) {
            return Ok(None);
        }
        let handle = AttachHandle::new()?;
        // SAFETY: The group and domain are valid; the new handle is boxed and kept below.
        to_result(unsafe {
            bindings::iommu_replace_group_handle(
                self.group.as_raw(),
                hwpt.domain.as_raw(),
                handle.handle.get(),
            )
        })?;
        for _ in 0..attached.devices {
            hwpt.header().add_user();
        }
        // The core no longer refers to the old handle.
        attached.handle = handle;
        let old = core::mem::replace(&mut attached.hwpt, hwpt.clone());
        Ok(Some((old, attached.devices)))
    }
}

/// A bound device's hold on the record of its group in its context
/// ([`GroupTable::get`]); dropping it releases the record ([`GroupTable::put`]).
pub(crate) struct GroupHold {
    ctx: CtxRef,
    ig: Arc<IGroup>,
}

impl GroupHold {
    /// Takes the record of `group` in `ctx`, created if needed.
    ///
    /// # Errors
    ///
    /// `ENOMEM`.
    pub(crate) fn new(ctx: CtxRef, group: ARef<Group>) -> Result<Self> {
        let ig = ctx.groups.get(group)?;
        Ok(Self { ctx, ig })
    }
}

impl core::ops::Deref for GroupHold {
    type Target = IGroup;

    fn deref(&self) -> &IGroup {
        &self.ig
    }
}

impl Drop for GroupHold {
    fn drop(&mut self) {
        self.ctx.groups.put(&self.ig);
    }
}

/// The groups of a context's bound devices.
#[pin_data]
pub(crate) struct GroupTable {
    #[pin]
    groups: Mutex<KVec<Arc<IGroup>>>,
}

impl GroupTable {
    /// An empty table.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            groups <- new_mutex!(KVec::new()),
        })
    }

    /// The context's record of `group`, created if needed; the caller holds it until
    /// [`GroupTable::put`] (through a [`GroupHold`]).
    ///
    /// # Errors
    ///
    /// `ENOMEM`.
    fn get(&self, group: ARef<Group>) -> Result<Arc<IGroup>> {
        let mut groups = self.groups.lock();
        for ig in groups.iter() {
            if ig.group.as_raw() == group.as_raw() {
                ig.state.lock().bound += 1;
                return Ok(ig.clone());
            }
        }
        let ig = Arc::pin_init(
            pin_init!(IGroup {
                group,
                state <- new_mutex!(IGroupState {
                    attached: None,
                    bound: 1,
                }),
            }),
            GFP_KERNEL_ACCOUNT,
        )?;
        groups.push(ig.clone(), GFP_KERNEL_ACCOUNT)?;
        Ok(ig)
    }

    /// Releases a record taken with [`GroupTable::get`].
    fn put(&self, ig: &Arc<IGroup>) {
        let mut groups = self.groups.lock();
        let mut state = ig.state.lock();
        state.bound -= 1;
        if state.bound == 0 {
            kernel::warn_on!(state.attached.is_some());
            drop(state);
            groups.retain(|g| !Arc::ptr_eq(g, ig));
        }
    }
}
