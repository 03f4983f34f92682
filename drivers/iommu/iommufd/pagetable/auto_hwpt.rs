// SPDX-License-Identifier: GPL-2.0

//! The automatic HWPTs of an IOAS: what a device attached to an IOAS itself (not to a
//! HWPT) goes through (C's `iommufd_device_auto_get_domain()`).
//!
//! The IOAS keeps the ids of the paging HWPTs it made this way (`Ioas::auto_hwpts`, C's
//! `hwpt_list`). An attach tries each in turn and takes the first whose domain suits the
//! device; if none does, it makes a new one for the device, publishes it, and lists it.
//! The list's mutex serialises these attaches, as C's `ioas->mutex`. An automatic HWPT is
//! destroyed when its last device leaves it (by the device layer, which holds it).

use kernel::{alloc::flags::GFP_KERNEL_ACCOUNT, device::Device, prelude::*};

use super::{
    hwpt::{Hwpt, HwptPaging, PagingSpec},
    Ioas,
};
use crate::object::{ObjRef, ObjectTable};

/// How a device goes onto an automatic HWPT.
pub(crate) struct AutoAttach<'a> {
    /// The context's objects: where the HWPTs are looked up and published.
    pub(crate) table: &'a ObjectTable,
    /// The device.
    pub(crate) dev: &'a Device,
    /// Whether a new domain must enforce cache coherency for it.
    pub(crate) coherent: bool,
    /// Whether the device moves from another domain (a replace): then a new HWPT is
    /// filled before the device moves to it, so that it goes only to a domain that maps the
    /// IOAS already. Otherwise (C's immediate attach) the device takes the new domain
    /// first, then it is filled, and the device is detached again if filling fails.
    pub(crate) fill_first: bool,
}

impl Ioas {
    /// Attaches a device through an automatic HWPT of `ioas`: one that exists and suits the
    /// device, else a new one; sets `pt_id` to the HWPT's id.
    ///
    /// `attach(hwpt)` attaches (or moves) the device to a HWPT and fails with `EINVAL` for
    /// one whose domain does not suit it; `detach()` undoes an `attach` that succeeded.
    ///
    /// # Errors
    ///
    /// What `attach` returns but `EINVAL`; as making, filling or publishing a new HWPT
    /// fails (`ENOMEM`, `EBUSY` when the context has no free id, ...).
    pub(crate) fn attach_auto<R>(
        ioas: &ObjRef<Ioas>,
        how: AutoAttach<'_>,
        pt_id: &mut u32,
        mut attach: impl FnMut(&Hwpt) -> Result<R>,
        detach: impl FnOnce(),
    ) -> Result<R> {
        let mut list = ioas.auto_hwpts.lock();
        for &id in list.iter() {
            let Ok(hwpt) = how.table.get::<HwptPaging>(id) else {
                continue;
            };
            match attach(&Hwpt::Paging(hwpt.arc().clone())) {
                // The domain does not suit the device: try the next.
                Err(e) if e == EINVAL => continue,
                Err(e) => return Err(e),
                Ok(r) => {
                    *pt_id = id;
                    return Ok(r);
                }
            }
        }
        list.reserve(1, GFP_KERNEL_ACCOUNT)?;
        let reservation = how.table.reserve()?;
        let id = reservation.id();
        let spec = PagingSpec {
            flags: 0,
            data: None,
            auto_domain: true,
            coherent: how.coherent,
            fault: None,
        };
        // On error the HWPT is dropped here, which takes a filled domain back out.
        let hwpt = HwptPaging::new_unfilled(ioas.clone(), id, how.dev, spec)?;
        let prepared = reservation.prepare(hwpt.clone())?;
        let new = Hwpt::Paging(hwpt.clone());
        let r = if how.fill_first {
            hwpt.fill()?;
            attach(&new)?
        } else {
            let r = attach(&new)?;
            if let Err(e) = hwpt.fill() {
                detach();
                return Err(e);
            }
            r
        };
        hwpt.set_listed();
        // Room was reserved above.
        let _ = list.push_within_capacity(id);
        prepared.publish();
        *pt_id = id;
        Ok(r)
    }
}
