// SPDX-License-Identifier: GPL-2.0

//! Bound devices: a physical device whose DMA a context controls.
//!
//! # Lifetime
//!
//! A driver (VFIO, or the test command's mock devices) binds a device to a context
//! ([`IDevice::bind`]): iommufd claims the DMA ownership of the device's IOMMU group (no
//! kernel driver DMAs through the DMA API meanwhile) and publishes a device object. The
//! driver is a user of the object until it unbinds ([`IDevice::unbind`]), so user space
//! cannot destroy it. Between the two, the driver attaches the device to an IOAS or a
//! HWPT ([`IDevice::attach`], [`IDevice::replace`]) and detaches it before it unbinds.
//!
//! A bound device holds its context (as C's `iommufd_ctx_get`) unless it is a mock
//! device, whose owner is itself an object of the context.
//!
//! # Locking
//!
//! `Ioas::auto_hwpts` (automatic attaches) → `IGroup::state` (which records the
//! attachments of each PASID of each device) → `IoPageTable::state`.

use kernel::{
    device::Device,
    iommu::{
        domain::{device_capable, Cap, DmaOwner},
        group::Group,
    },
    prelude::*,
    sync::{aref::ARef, Arc, Mutex},
};

use crate::{
    ctx::CtxRef,
    object::ObjectHeader,
    pagetable::{auto_hwpt::AutoAttach, hwpt::Hwpt, Ioas},
    system::group::GroupHold,
    trace::{self, AttachChange},
};

use super::vdevice::{VDevice, VdevSlot};
use crate::object::Prepared;

/// A bound device.
#[pin_data]
pub(crate) struct IDevice {
    header: ObjectHeader,
    ctx: CtxRef,
    /// The id in the context's table.
    id: u32,
    /// The device.
    pub(crate) dev: ARef<Device>,
    /// Its IOMMU group, in this context.
    igroup: GroupHold,
    /// The claim on the group's DMA, released when the object goes.
    _owner: DmaOwner,
    /// Whether the device can do DMA that bypasses CPU caches, so that only domains that
    /// enforce coherency suit it.
    enforce_cache_coherency: bool,
    /// Its vDEVICE, if it has one.
    #[pin]
    vdev: Mutex<VdevSlot>,
}

crate::object::object_type!(IDevice, Device);

/// What an attach changes: a new attachment, or a move from another HWPT.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Change {
    Attach,
    Replace,
}

impl IDevice {
    /// Writes the device's section of the live view (debugfs `devices`): a line `device ID
    /// dev=NAME group=N coherent=0|1`, then what its RID and PASIDs are attached to.
    pub(crate) fn write_view(&self, f: &mut impl core::fmt::Write) -> core::fmt::Result {
        writeln!(
            f,
            "device {} dev={} group={} coherent={}",
            self.id,
            self.dev.name().to_str().unwrap_or("?"),
            self.igroup.group.id(),
            u8::from(self.enforce_cache_coherency)
        )?;
        self.igroup.write_attachments(self.id, f)
    }

    /// Binds `dev` to the context `ctx` (C's `iommufd_device_bind`); `isolated_msi_needed`
    /// unless the device is a mock.
    ///
    /// # Errors
    ///
    /// `EINVAL` if no IOMMU translates for the device or its IOMMU cannot keep DMA cache
    /// coherent, `ENODEV` if it has no IOMMU group, `EPERM` if its interrupts are not
    /// isolated (unless the module parameter `allow_unsafe_interrupts` is set), `EBUSY` if
    /// its group is owned by another user, `ENOMEM`.
    pub(crate) fn bind(ctx: CtxRef, dev: &Device, isolated_msi_needed: bool) -> Result<Arc<Self>> {
        // As C: a device no IOMMU translates for is refused here too (`EINVAL`), since it
        // has no IOMMU capabilities.
        if !device_capable(dev, Cap::CACHE_COHERENCY) {
            return Err(EINVAL);
        }
        let group = Group::of(dev).ok_or(ENODEV)?;
        // Released when the hold is dropped: on error here, or with the object.
        let igroup = GroupHold::new(ctx.clone(), group)?;
        if isolated_msi_needed && !igroup.group.has_isolated_msi() {
            if !crate::kapi::allow_unsafe_interrupts() {
                return Err(EPERM);
            }
            dev_warn!(
                dev,
                "MSI interrupts are not secure, they cannot be isolated by the platform. \
                 Check that platform features like interrupt remapping are enabled. \
                 Use the \"allow_unsafe_interrupts\" module parameter to override\n"
            );
        }
        Self::publish(&ctx, igroup, dev)
    }

    /// Claims the DMA of `dev` and publishes its object, which holds `igroup`.
    fn publish(ctx: &CtxRef, igroup: GroupHold, dev: &Device) -> Result<Arc<Self>> {
        // The context is the owner token: devices of one group may share the claim only
        // within one context.
        let owner = DmaOwner::claim::<crate::ctx::IommufdCtx>(dev, ctx)?;
        let reservation = ctx.objects.reserve()?;
        let id = reservation.id();
        let idev = Arc::pin_init(
            pin_init!(Self {
                header: ObjectHeader::new(),
                ctx: ctx.clone(),
                id,
                dev: dev.into(),
                igroup,
                _owner: owner,
                enforce_cache_coherency: device_capable(
                    dev,
                    Cap::ENFORCE_CACHE_COHERENCY,
                ),
                vdev <- VdevSlot::new(),
            }),
            GFP_KERNEL_ACCOUNT,
        )?;
        // The driver is a user until it unbinds.
        idev.header.add_user();
        reservation.prepare(idev.clone())?.publish();
        Ok(idev)
    }

    /// The id in the context's table.
    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    /// The device's IOMMU group.
    pub(crate) fn group(&self) -> &Group {
        &self.igroup.group
    }

    /// The context the device is bound to.
    pub(crate) fn ctx(&self) -> &crate::ctx::IommufdCtx {
        &self.ctx
    }

    /// Whether the device can issue DMA that bypasses CPU caches, so that only domains that
    /// enforce coherency suit it.
    pub(crate) fn enforce_cache_coherency(&self) -> bool {
        self.enforce_cache_coherency
    }

    /// Unbinds the device (C's `iommufd_device_unbind`): removes the object, waiting for
    /// lookups in flight. The driver detached it first.
    pub(crate) fn unbind(this: &Arc<Self>) {
        kernel::warn_on!(this.igroup.is_attached(this.id));
        // The vDEVICE goes with the device, leaving a tombstone (as in C).
        let vdev_id = this.vdev.lock().close();
        if vdev_id != 0 {
            this.ctx
                .objects
                .tombstone::<VDevice>(vdev_id, |v| v.is_of(this));
        }
        this.ctx.objects.remove_owned::<Self>(this.id);
    }

    /// Claims the device's vDEVICE slot for the vDEVICE `id`.
    ///
    /// # Errors
    ///
    /// `EEXIST` if the device has a vDEVICE.
    pub(crate) fn claim_vdev(&self, id: u32) -> Result {
        self.vdev.lock().claim(id)
    }

    /// Publishes the vDEVICE `id` of a claim, unless the device is being unbound.
    ///
    /// # Errors
    ///
    /// `ENOENT` if the device is being unbound; the vDEVICE is dropped then.
    pub(crate) fn publish_vdev(&self, id: u32, prepared: Prepared<'_>) -> Result {
        let slot = self.vdev.lock();
        if !slot.holds(id) {
            drop(slot);
            drop(prepared);
            return Err(ENOENT);
        }
        prepared.publish();
        Ok(())
    }

    /// Releases the claim of the vDEVICE `id`.
    pub(crate) fn clear_vdev(&self, id: u32) {
        self.vdev.lock().clear(id);
    }

    /// Attaches `pasid` of the device (`NO_PASID` for its RID) to the IOAS or HWPT `pt_id`;
    /// for an IOAS, sets `pt_id` to the HWPT used (C's `iommufd_device_attach`).
    ///
    /// # Errors
    ///
    /// `ENOENT` for an unknown id, `EBUSY` if `pasid` is attached already, `EINVAL` for an
    /// object of another type or a HWPT that does not suit the device or `pasid`; as
    /// filling a new domain fails (`ENOMEM`, also over `RLIMIT_MEMLOCK`, `EADDRINUSE`).
    pub(crate) fn attach(this: &Arc<Self>, pasid: u32, pt_id: &mut u32) -> Result {
        let res = Self::change_pt(this, pasid, pt_id, Change::Attach);
        this.trace(AttachChange::Attach, pasid, 0, *pt_id, &res);
        res
    }

    /// Moves the attached `pasid` of the device to the IOAS or HWPT `pt_id` without a
    /// moment in which its DMA is unmapped (C's `iommufd_device_replace`).
    ///
    /// # Errors
    ///
    /// As [`IDevice::attach`]; `EINVAL` if `pasid` is not attached.
    pub(crate) fn replace(this: &Arc<Self>, pasid: u32, pt_id: &mut u32) -> Result {
        let old = this.attached_hwpt(pasid).map_or(0, |h| h.id());
        let res = Self::change_pt(this, pasid, pt_id, Change::Replace);
        this.trace(AttachChange::Replace, pasid, old, *pt_id, &res);
        res
    }

    /// Detaches `pasid` of the device (C's `iommufd_device_detach`); nothing if it is not
    /// attached.
    pub(crate) fn detach(this: &Arc<Self>, pasid: u32) {
        if let Some(hwpt) = this.igroup.detach(this.id, pasid) {
            this.trace(AttachChange::Detach, pasid, hwpt.id(), 0, &Ok(()));
            this.release_hwpt(&hwpt, 1);
        }
    }

    /// Reports a change of what `pasid` is attached to, from HWPT `old` to `new` (0 for
    /// none), to the tracepoints.
    fn trace(&self, change: AttachChange, pasid: u32, old: u32, new: u32, res: &Result) {
        let ctx = self.ctx.objects.seq();
        trace::attach(change, ctx, self.id, pasid, old, new, res);
    }

    /// The HWPT `pasid` of the device is attached to, if any.
    pub(crate) fn attached_hwpt(&self, pasid: u32) -> Option<Hwpt> {
        self.igroup.attached_hwpt(self.id, pasid)
    }

    /// Detaches every attached PASID of the device, and its RID (before it unbinds).
    pub(crate) fn detach_all(this: &Arc<Self>) {
        while let Some(pasid) = this.igroup.attached_pasid(this.id) {
            Self::detach(this, pasid);
        }
    }

    /// Drops `n` users of `hwpt` that attachments held; an automatic HWPT no device uses
    /// any more is destroyed.
    fn release_hwpt(&self, hwpt: &Hwpt, n: u32) {
        for _ in 0..n {
            hwpt.header().put_user();
        }
        if let Hwpt::Paging(paging) = hwpt {
            if paging.auto_domain {
                self.ctx.objects.try_destroy(paging.id(), paging);
            }
        }
    }

    fn change_pt(this: &Arc<Self>, pasid: u32, pt_id: &mut u32, change: Change) -> Result {
        let old = if let Ok(ioas) = this.ctx.objects.get::<Ioas>(*pt_id) {
            let how = AutoAttach {
                table: &this.ctx.objects,
                dev: &this.dev,
                coherent: this.enforce_cache_coherency,
                fill_first: matches!(change, Change::Replace),
            };
            let detach = || {
                if let Some(attached) = this.igroup.detach(this.id, pasid) {
                    attached.header().put_user();
                }
            };
            Ioas::attach_auto(
                &ioas,
                how,
                pt_id,
                |hwpt| this.do_change(hwpt, pasid, change),
                detach,
            )?
        } else {
            let hwpt = Hwpt::get(&this.ctx.objects, *pt_id)?;
            this.do_change(&hwpt.hwpt(), pasid, change)?
        };
        if let Some((old, n)) = old {
            this.release_hwpt(&old, n);
        }
        Ok(())
    }

    /// Attaches `pasid` to (or moves it to) `hwpt`; for a move, returns the old HWPT and
    /// the users to drop on it.
    ///
    /// As in C, cache coherency is settled when a HWPT is allocated (for the device it is
    /// allocated for) and not looked at here: a HWPT that does not enforce it may take
    /// devices that could; a driver refuses a device that cannot use a domain.
    fn do_change(&self, hwpt: &Hwpt, pasid: u32, change: Change) -> Result<Option<(Hwpt, u32)>> {
        match change {
            Change::Attach => self
                .igroup
                .attach(&self.dev, self.id, pasid, hwpt)
                .map(|()| None),
            Change::Replace => {
                let dev_of = |id: u32| {
                    self.ctx
                        .objects
                        .get::<IDevice>(id)
                        .ok()
                        .map(|d| d.dev.clone())
                };
                self.igroup
                    .replace(&self.dev, self.id, pasid, hwpt, &dev_of)
            }
        }
    }
}
