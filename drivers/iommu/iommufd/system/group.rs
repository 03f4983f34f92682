// SPDX-License-Identifier: GPL-2.0

//! The groups of bound devices, and what each group and PASID is attached to.
//!
//! The iommu core attaches a domain to a whole IOMMU group (for the RID), or to one PASID
//! of one device, while iommufd attaches devices. One [`IGroup`] per IOMMU group and
//! context records, per PASID, which devices of the group asked for the attachment: the
//! first attaches, later ones of the same group must ask for the same HWPT (`EINVAL`
//! otherwise, as in C), and the last to detach detaches.
//!
//! A HWPT may serve PASIDs only if it was allocated PASID-compatible
//! (`IOMMU_HWPT_ALLOC_PASID`); while any PASID of the group is attached, the RID may only
//! use such HWPTs too, and the reverse (C's `iommufd_hwpt_pasid_compat`).
//!
//! # Ownership
//!
//! A context's [`GroupTable`] holds its groups; each bound device holds its group as
//! well (a [`GroupHold`]), and the last device to go removes it.
//! While attached, a group holds one user of the HWPT per attached device, so the HWPT
//! cannot be destroyed under them (`EBUSY`).
//!
//! # Locking
//!
//! `IGroup::state` is taken before `IoPageTable::state` (an attach fills the domain) and
//! before `Fault::state` (a detach answers the faults left). The table's mutex is never
//! held across anything else.

use kernel::{
    device::Device,
    iommu::{
        attach::{Attachment, Target},
        domain::{device_shares_pri_with_pf, ResvRegion},
        group::Group,
    },
    new_mutex,
    prelude::*,
    sync::{aref::ARef, Arc, Mutex},
};

use crate::{
    ctx::CtxRef,
    pagetable::{eventq::fault::Fault, hwpt::Hwpt, iova::IovaRange, Ioas},
    system::msi::{self, GroupMsi, SharedMaps},
};

/// Reserves, in `ioas`, the reserved regions of `dev` (id `dev_id`), whose requests without
/// PASID reach the IOAS through a HWPT (C's `iopt_table_enforce_dev_resv_regions()`):
/// direct-mapped, reserved and MSI windows; relaxable direct maps are left to the user.
///
/// # Errors
///
/// Returns the start of the device's software MSI window (`IOMMU_RESV_SW_MSI`), if it has
/// one ([`crate::system::msi`]).
///
/// # Errors
///
/// `EADDRINUSE` if something is mapped in a region, `ENOMEM`; `EINVAL` when iommufd's fault
/// injection says so (as C), or for a driver that reports both kinds of MSI window, or two
/// software ones (warned).
fn reserve_regions(dev: &Device, dev_id: u32, ioas: &Ioas) -> Result<Option<u64>> {
    if crate::should_fail() {
        return Err(EINVAL);
    }
    let regions = kernel::iommu::domain::resv_regions(dev)?;
    let mut ranges = KVec::with_capacity(regions.len(), GFP_KERNEL)?;
    let (mut hw_msi, mut sw_msi, mut sw_msi_start) = (0, 0, None);
    for r in regions
        .iter()
        .filter(|r| r.kind != ResvRegion::DIRECT_RELAXABLE)
    {
        match r.kind {
            ResvRegion::MSI => hw_msi += 1,
            ResvRegion::SW_MSI => {
                sw_msi += 1;
                sw_msi_start = Some(r.start);
            }
            _ => {}
        }
        let last = r.start.saturating_add(r.length - 1);
        // Room was allocated above.
        let _ = ranges.push_within_capacity(IovaRange {
            start: r.start,
            last,
        });
    }
    // Drivers offer one kind of MSI window, and one software window at most.
    if kernel::warn_on!((sw_msi != 0 && hw_msi != 0) || sw_msi > 1) {
        return Err(EINVAL);
    }
    ioas.iopt.reserve_dev(dev_id, &ranges)?;
    Ok(sw_msi_start)
}

/// `IOMMU_NO_PASID`: the PASID of DMA without one (the RID).
pub(crate) const NO_PASID: u32 = 0;

/// What iommufd's IO page fault handler and MSI set-up need to know of an attachment,
/// carried by the iommu core's record of it ([`AttachHandle`]).
pub(crate) struct HandleData {
    /// The fault queue of the HWPT attached.
    fault: Option<Arc<Fault>>,
    /// The device that attached first.
    dev_id: u32,
    /// The MSI state of the group it attaches.
    msi: Arc<GroupMsi>,
}

/// The iommu core's record of an attachment of iommufd, which it keeps until the detach.
pub(crate) type AttachHandle = kernel::iommu::attach::AttachHandle<HandleData>;

impl HandleData {
    /// A handle for the first device `dev_id` of `group` that attaches to `hwpt`.
    fn handle(hwpt: &Hwpt, dev_id: u32, group: &IGroup) -> Result<Pin<KBox<AttachHandle>>> {
        let data = Self {
            fault: hwpt.fault().cloned(),
            dev_id,
            msi: group.msi.clone(),
        };
        AttachHandle::new(data, GFP_KERNEL_ACCOUNT)
    }

    /// The fault queue faults through this attachment go to.
    pub(crate) fn fault(&self) -> Option<&Arc<Fault>> {
        self.fault.as_ref()
    }

    /// The id of the device faults through this attachment are reported for.
    pub(crate) fn dev_id(&self) -> u32 {
        self.dev_id
    }

    /// The MSI state of the group it attaches.
    #[cfg_attr(not(CONFIG_IRQ_MSI_IOMMU), allow(dead_code))]
    pub(crate) fn msi(&self) -> &GroupMsi {
        &self.msi
    }
}

/// Ends a handle the core no longer refers to: pending faults that came through it are
/// answered `IOMMU_PAGE_RESP_INVALID`.
fn retire(handle: Option<Pin<KBox<AttachHandle>>>) {
    if let Some(handle) = handle {
        if let Some(fault) = &handle.data().fault {
            fault.auto_respond(&handle);
        }
    }
}

/// What one PASID (or the RID) of a group is attached to.
struct Attached {
    pasid: u32,
    /// The attachment of the group (or the device's PASID) to `hwpt`'s domain (first, so
    /// that a drop detaches before the HWPT is let go).
    attachment: Attachment<HandleData>,
    hwpt: Hwpt,
    /// The ids of the attached devices (each holds a user of `hwpt`).
    devices: KVec<u32>,
}

/// What [`IGroup::state`] protects.
struct IGroupState {
    attached: KVec<Attached>,
    /// Bound devices holding the group (under the table's lock, not this one).
    bound: u32,
}

impl IGroupState {
    fn find(&self, pasid: u32) -> Option<usize> {
        self.attached.iter().position(|a| a.pasid == pasid)
    }

    /// Whether `hwpt` may serve `pasid` given the other attachments (C's
    /// `iommufd_hwpt_pasid_compat`).
    /// Whether `dev`'s `pasid` may use `hwpt` (C's `iommufd_hwpt_compatible_device` and
    /// `iommufd_hwpt_pasid_compat`): a HWPT that forwards IO page faults takes no PCI VF
    /// whose PF has PRI, which they share.
    ///
    /// # Errors
    ///
    /// `EINVAL` if it may not.
    fn compatible(&self, dev: &Device, hwpt: &Hwpt, pasid: u32) -> Result {
        if hwpt.fault().is_some() && device_shares_pri_with_pf(dev) {
            return Err(EINVAL);
        }
        self.pasid_compat(hwpt, pasid)
    }

    fn pasid_compat(&self, hwpt: &Hwpt, pasid: u32) -> Result {
        if pasid == NO_PASID {
            if !hwpt.pasid_compat() && self.attached.iter().any(|a| a.pasid != NO_PASID) {
                return Err(EINVAL);
            }
        } else {
            if !hwpt.pasid_compat() {
                return Err(EINVAL);
            }
            if let Some(i) = self.find(NO_PASID) {
                if !self.attached[i].hwpt.pasid_compat() {
                    return Err(EINVAL);
                }
            }
        }
        Ok(())
    }
}

/// The bound devices of one IOMMU group in one context.
#[pin_data]
pub(crate) struct IGroup {
    /// The IOMMU group.
    pub(crate) group: ARef<Group>,
    #[pin]
    state: Mutex<IGroupState>,
    /// Its software MSI window and the doorbells its devices use (shared with the
    /// handles of its attachments).
    pub(crate) msi: Arc<GroupMsi>,
}

impl IGroup {
    /// Attaches `pasid` of the device `dev` (id `dev_id`) of the group to `hwpt`; the first
    /// device attaches the group (for the RID) or the PASID.
    ///
    /// # Errors
    ///
    /// `EBUSY` if the device's `pasid` is attached already; `EINVAL` if the group's `pasid`
    /// is attached to another HWPT, the HWPT cannot serve `pasid`, or the domain does not
    /// suit the device; `EADDRINUSE` if the IOAS maps IOVA in the device's reserved
    /// regions; as the iommu core fails; `ENOMEM`.
    pub(crate) fn attach(&self, dev: &Device, dev_id: u32, pasid: u32, hwpt: &Hwpt) -> Result {
        let mut state = self.state.lock();
        // Requests without PASID reach the IOAS: the device's reserved regions go there.
        let resv = pasid == NO_PASID;
        if let Some(i) = state.find(pasid) {
            let attached = &mut state.attached[i];
            if attached.devices.contains(&dev_id) {
                return Err(EBUSY);
            }
            if !attached.hwpt.ptr_eq(hwpt) {
                return Err(EINVAL);
            }
            if resv {
                if let Some(start) = reserve_regions(dev, dev_id, hwpt.ioas())? {
                    self.msi.set_start(start);
                }
            }
            if let Err(e) = attached.devices.push(dev_id, GFP_KERNEL_ACCOUNT) {
                if resv {
                    hwpt.ioas().iopt.unreserve_dev(dev_id);
                }
                return Err(e.into());
            }
            hwpt.header().add_user();
            return Ok(());
        }
        // Checked after the reserved regions and the MSI set-up, as C orders its errors.
        let compat = state.compatible(dev, hwpt, pasid);
        if resv {
            if let Some(start) = reserve_regions(dev, dev_id, hwpt.ioas())? {
                self.msi.set_start(start);
            }
        }
        let res = self.attach_first(&mut state, dev, dev_id, pasid, hwpt, compat);
        if res.is_err() && resv {
            hwpt.ioas().iopt.unreserve_dev(dev_id);
        }
        res
    }

    /// The body of [`IGroup::attach`] for the first device of `pasid`: the MSI doorbells
    /// the group uses are mapped into the domain before the group moves there.
    fn attach_first(
        &self,
        state: &mut IGroupState,
        dev: &Device,
        dev_id: u32,
        pasid: u32,
        hwpt: &Hwpt,
        compat: Result,
    ) -> Result {
        state.attached.reserve(1, GFP_KERNEL_ACCOUNT)?;
        let mut devices = KVec::with_capacity(1, GFP_KERNEL_ACCOUNT)?;
        // Room was reserved.
        let _ = devices.push_within_capacity(dev_id);
        if pasid == NO_PASID {
            self.msi.setup(hwpt.paging())?;
        }
        compat?;
        let handle = HandleData::handle(hwpt, dev_id, self)?;
        let target = if pasid == NO_PASID {
            Target::Group(self.group.clone())
        } else {
            Target::Pasid(dev.into(), pasid)
        };
        let attachment = Attachment::attach(target, hwpt.domain_arc(), handle)?;
        hwpt.header().add_user();
        // Room was reserved above.
        let _ = state.attached.push_within_capacity(Attached {
            pasid,
            attachment,
            hwpt: hwpt.clone(),
            devices,
        });
        Ok(())
    }

    /// Detaches `pasid` of the device `dev_id`; the last device detaches the group or the
    /// PASID. Returns the HWPT, whose user the device held, for the caller to release (and
    /// destroy if automatic) without the group's lock; `None` if the device's `pasid` was
    /// not attached.
    pub(crate) fn detach(&self, dev_id: u32, pasid: u32) -> Option<Hwpt> {
        let mut state = self.state.lock();
        let i = state.find(pasid)?;
        let attached = &mut state.attached[i];
        let d = attached.devices.iter().position(|&id| id == dev_id)?;
        let _ = attached.devices.remove(d);
        // The device's reserved regions go once its requests no longer reach the IOAS
        // through the group's attachment, or with the device when others stay (as C).
        let unreserve = |hwpt: &Hwpt| {
            if pasid == NO_PASID {
                hwpt.ioas().iopt.unreserve_dev(dev_id);
            }
        };
        if !attached.devices.is_empty() {
            unreserve(&attached.hwpt);
            return Some(attached.hwpt.clone());
        }
        let attached = state.attached.remove(i).ok()?;
        retire(attached.attachment.detach());
        unreserve(&attached.hwpt);
        Some(attached.hwpt)
    }

    /// Moves `pasid` of the group from its HWPT to `hwpt` without a moment in which its
    /// DMA is unmapped. Returns the old HWPT, whose users (one per attached device) the
    /// caller releases; returns `None` if `hwpt` is the current one.
    ///
    /// # Errors
    ///
    /// `EINVAL` if the device's `pasid` is not attached, the HWPT cannot serve `pasid` or
    /// the domain does not suit the device; `EADDRINUSE` if the new IOAS maps IOVA in a
    /// device's reserved region; as the core fails (`ENOMEM`). The group stays on its old
    /// HWPT, and the reserved regions in the old IOAS, on error.
    pub(crate) fn replace(
        &self,
        dev: &Device,
        dev_id: u32,
        pasid: u32,
        hwpt: &Hwpt,
        dev_of: &dyn Fn(u32) -> Option<ARef<Device>>,
    ) -> Result<Option<(Hwpt, u32)>> {
        let mut state = self.state.lock();
        let i = state.find(pasid).ok_or(EINVAL)?;
        if !state.attached[i].devices.contains(&dev_id) {
            return Err(EINVAL);
        }
        if state.attached[i].hwpt.ptr_eq(hwpt) {
            return Ok(None);
        }
        // Checked after the reserved regions and the MSI set-up, as C orders its errors.
        let compat = state.compatible(dev, hwpt, pasid);
        let attached = &mut state.attached[i];
        // Moving to another IOAS: every device's reserved regions move with it (their SW
        // MSI window was recorded on attach, as C).
        let resv = pasid == NO_PASID && !core::ptr::eq(attached.hwpt.ioas(), hwpt.ioas());
        if resv {
            for (n, &id) in attached.devices.iter().enumerate() {
                let res = if id == dev_id {
                    reserve_regions(dev, id, hwpt.ioas())
                } else {
                    // Every device of the group is bound in this context; only injected
                    // failures of the lookup miss one, and then the replace fails whole.
                    dev_of(id)
                        .ok_or(ENOENT)
                        .and_then(|d| reserve_regions(&d, id, hwpt.ioas()))
                }
                .map(|_| ());
                if let Err(e) = res {
                    for &done in &attached.devices[..n] {
                        hwpt.ioas().iopt.unreserve_dev(done);
                    }
                    return Err(e);
                }
            }
        }
        // The doorbells the group uses are mapped in the new domain before it moves.
        let res = if pasid == NO_PASID {
            self.msi.setup(hwpt.paging())
        } else {
            Ok(())
        }
        .and(compat)
        .and_then(|()| self.replace_domain(attached, dev_id, hwpt));
        if resv {
            // The regions leave the IOAS the group no longer (or did not) attach through.
            let from = match &res {
                Ok(Some((old, _))) => old.ioas(),
                _ => hwpt.ioas(),
            };
            for &id in attached.devices.iter() {
                from.iopt.unreserve_dev(id);
            }
        }
        res
    }

    /// The body of [`IGroup::replace`]: attaches `hwpt` in place of the old HWPT.
    fn replace_domain(
        &self,
        attached: &mut Attached,
        dev_id: u32,
        hwpt: &Hwpt,
    ) -> Result<Option<(Hwpt, u32)>> {
        let handle = HandleData::handle(hwpt, dev_id, self)?;
        let old = attached.attachment.replace(hwpt.domain_arc(), handle)?;
        let n = attached.devices.len() as u32;
        for _ in 0..n {
            hwpt.header().add_user();
        }
        // The core no longer refers to the old handle.
        retire(Some(old));
        let old = core::mem::replace(&mut attached.hwpt, hwpt.clone());
        Ok(Some((old, n)))
    }

    /// The HWPT `pasid` of the device `dev_id` is attached to, if any.
    pub(crate) fn attached_hwpt(&self, dev_id: u32, pasid: u32) -> Option<Hwpt> {
        let state = self.state.lock();
        let a = &state.attached[state.find(pasid)?];
        a.devices.contains(&dev_id).then(|| a.hwpt.clone())
    }

    /// Writes what the device `dev_id` of the group is attached to, a line `attached
    /// pasid=rid|N hwpt=ID|nested parent=ID group-devices=N` each, for the live view.
    pub(crate) fn write_attachments(
        &self,
        dev_id: u32,
        f: &mut impl core::fmt::Write,
    ) -> core::fmt::Result {
        let state = self.state.lock();
        for a in state
            .attached
            .iter()
            .filter(|a| a.devices.contains(&dev_id))
        {
            if a.pasid == NO_PASID {
                write!(f, "attached pasid=rid")?;
            } else {
                write!(f, "attached pasid={}", a.pasid)?;
            }
            match &a.hwpt {
                Hwpt::Paging(h) => write!(f, " hwpt={}", h.id())?,
                Hwpt::Nested(h) => write!(f, " hwpt=nested parent={}", h.parent().id())?,
            }
            writeln!(f, " group-devices={}", a.devices.len())?;
        }
        Ok(())
    }

    /// A PASID (or the RID) of the device `dev_id` that is attached, if any.
    pub(crate) fn attached_pasid(&self, dev_id: u32) -> Option<u32> {
        self.state
            .lock()
            .attached
            .iter()
            .find(|a| a.devices.contains(&dev_id))
            .map(|a| a.pasid)
    }

    /// Whether any PASID of the device `dev_id` is attached.
    pub(crate) fn is_attached(&self, dev_id: u32) -> bool {
        self.state
            .lock()
            .attached
            .iter()
            .any(|a| a.devices.contains(&dev_id))
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
    /// The context's MSI doorbells, shared by its groups.
    sw_msi: SharedMaps,
}

impl GroupTable {
    /// An empty table.
    ///
    /// # Errors
    ///
    /// `ENOMEM`.
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            groups <- new_mutex!(KVec::new()),
            sw_msi: msi::new_maps()?,
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
            if core::ptr::eq(&*ig.group, &*group) {
                ig.state.lock().bound += 1;
                return Ok(ig.clone());
            }
        }
        let msi = Arc::new(GroupMsi::new(self.sw_msi.clone()), GFP_KERNEL_ACCOUNT)?;
        let ig = Arc::pin_init(
            pin_init!(IGroup {
                group,
                state <- new_mutex!(IGroupState {
                    attached: KVec::new(),
                    bound: 1,
                }),
                msi,
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
            kernel::warn_on!(!state.attached.is_empty());
            drop(state);
            groups.retain(|g| !Arc::ptr_eq(g, ig));
        }
    }
}
