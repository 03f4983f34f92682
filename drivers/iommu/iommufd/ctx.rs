// SPDX-License-Identifier: GPL-2.0

//! The context of one open `/dev/iommu`.
//!
//! A context is created by `open()` and lives until the last reference to the file is
//! dropped. It owns every object created through the file; closing the file destroys them
//! all, users before what they use ([`ObjectTable::destroy_all`]).

use kernel::{
    fs::File,
    miscdevice::{MiscDevice, MiscDeviceRegistration},
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
};

use crate::{object::ObjectTable, ucmd};

/// Whose `RLIMIT_MEMLOCK` pinned pages are charged to (`IOMMU_OPTION_RLIMIT_MODE`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum AccountMode {
    /// The user of the process that pins (the default of `/dev/iommu`).
    User,
    /// The mm of the process that pins (as VFIO type1 does).
    Mm,
}

/// One open file of `/dev/iommu`.
#[pin_data(PinnedDrop)]
pub(crate) struct IommufdCtx {
    /// Every object of this file, by id.
    #[pin]
    pub(crate) objects: ObjectTable,
    /// True for [`AccountMode::Mm`]. Changed only while `objects` is empty, under its lock.
    account_mm: Atomic<bool>,
}

impl IommufdCtx {
    /// Where pinned pages are charged.
    pub(crate) fn account_mode(&self) -> AccountMode {
        if self.account_mm.load(Relaxed) {
            AccountMode::Mm
        } else {
            AccountMode::User
        }
    }

    /// Changes where pinned pages are charged: `val` 0 for [`AccountMode::User`], 1 for
    /// [`AccountMode::Mm`]. Allowed only while the context has no objects (nor objects under
    /// construction).
    ///
    /// # Errors
    ///
    /// `EBUSY` if the context has objects (checked first, as C does), else `EINVAL` for any
    /// other `val`.
    pub(crate) fn set_account_mode(&self, val: u64) -> Result {
        self.objects.with_emptiness(|empty| {
            if !empty {
                return Err(EBUSY);
            }
            let mm = match val {
                0 => false,
                1 => true,
                _ => return Err(EINVAL),
            };
            self.account_mm.store(mm, Relaxed);
            Ok(())
        })
    }
}

#[vtable]
impl MiscDevice for IommufdCtx {
    type Ptr = Pin<KBox<Self>>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Pin<KBox<Self>>> {
        KBox::try_pin_init(
            try_pin_init!(Self {
                objects <- ObjectTable::new(),
                account_mm: Atomic::new(false),
            }),
            GFP_KERNEL_ACCOUNT,
        )
    }

    fn ioctl(me: Pin<&Self>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        ucmd::dispatch(&me, cmd, arg).map(|()| 0)
    }
}

#[pinned_drop]
impl PinnedDrop for IommufdCtx {
    fn drop(self: Pin<&mut Self>) {
        self.objects.destroy_all();
    }
}
