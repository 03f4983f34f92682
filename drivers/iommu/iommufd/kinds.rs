// SPDX-License-Identifier: GPL-2.0

//! The registry of object kinds: every type of object a context's table holds, in one
//! place, as C's `iommufd_object_ops[]`.
//!
//! The table ([`crate::object`]) knows objects only through this file: an entry is an
//! [`ObjectKind`], and a lookup of a type goes through its [`ObjectType`] impl, which
//! [`object_type!`] writes for a struct with a `header` field. A new kind of object is a
//! variant here and one `object_type!` line next to its type.

use kernel::sync::Arc;

use crate::{
    device::{access::Access, idev::IDevice, vdevice::VDevice},
    object::ObjectHeader,
    pagetable::{
        eventq::{fault::Fault, veventq::VEventq},
        hwpt::HwptPaging,
        nested::HwptNested,
        viommu::{hw_queue::HwQueue, Viommu},
        Ioas,
    },
};

/// An object of one concrete type.
pub(crate) trait ObjectType: Send + Sync + Sized {
    /// The object's header.
    fn header(&self) -> &ObjectHeader;
    /// The object, if `kind` is one of this type.
    fn from_kind(kind: &ObjectKind) -> Option<&Arc<Self>>;
    /// Wraps the object for the table.
    fn into_kind(this: Arc<Self>) -> ObjectKind;
}

/// Implements [`ObjectType`] for `$ty`, a struct with a `header: ObjectHeader` field, held
/// in the table as `ObjectKind::$variant`.
macro_rules! object_type {
    ($ty:ty, $variant:ident) => {
        impl $crate::kinds::ObjectType for $ty {
            fn header(&self) -> &$crate::object::ObjectHeader {
                &self.header
            }

            fn from_kind(kind: &$crate::kinds::ObjectKind) -> Option<&kernel::sync::Arc<Self>> {
                match kind {
                    $crate::kinds::ObjectKind::$variant(obj) => Some(obj),
                    #[allow(unreachable_patterns)]
                    _ => None,
                }
            }

            fn into_kind(this: kernel::sync::Arc<Self>) -> $crate::kinds::ObjectKind {
                $crate::kinds::ObjectKind::$variant(this)
            }
        }
    };
}
pub(crate) use object_type;

/// The objects a table can hold.
pub(crate) enum ObjectKind {
    /// An IO address space.
    Ioas(Arc<Ioas>),
    /// An in-kernel access.
    Access(Arc<Access>),
    /// A bound device.
    Device(Arc<IDevice>),
    /// A paging hardware page table.
    HwptPaging(Arc<HwptPaging>),
    /// A nested hardware page table.
    HwptNested(Arc<HwptNested>),
    /// A fault queue.
    Fault(Arc<Fault>),
    /// A vIOMMU.
    Viommu(Arc<Viommu>),
    /// A device's identity on a vIOMMU.
    VDevice(Arc<VDevice>),
    /// A vIOMMU's event queue.
    VEventq(Arc<VEventq>),
    /// A vIOMMU's HW queue.
    HwQueue(Arc<HwQueue>),
    /// A test object (a mock device, `IOMMU_TEST_OP_MOCK_DOMAIN`).
    #[cfg(CONFIG_IOMMUFD_TEST)]
    Selftest(Arc<crate::selftest::StDev>),
}

impl ObjectKind {
    /// The name of each kind, by [`ObjectKind::index`], as the live view prints it.
    pub(crate) const NAMES: [&'static str; 11] = [
        "ioas",
        "access",
        "device",
        "hwpt_paging",
        "hwpt_nested",
        "fault",
        "viommu",
        "vdevice",
        "veventq",
        "hw_queue",
        "selftest",
    ];

    /// The kind's position in [`ObjectKind::NAMES`].
    pub(crate) fn index(&self) -> usize {
        match self {
            ObjectKind::Ioas(_) => 0,
            ObjectKind::Access(_) => 1,
            ObjectKind::Device(_) => 2,
            ObjectKind::HwptPaging(_) => 3,
            ObjectKind::HwptNested(_) => 4,
            ObjectKind::Fault(_) => 5,
            ObjectKind::Viommu(_) => 6,
            ObjectKind::VDevice(_) => 7,
            ObjectKind::VEventq(_) => 8,
            ObjectKind::HwQueue(_) => 9,
            #[cfg(CONFIG_IOMMUFD_TEST)]
            ObjectKind::Selftest(_) => 10,
        }
    }

    pub(crate) fn header(&self) -> &ObjectHeader {
        match self {
            ObjectKind::Ioas(ioas) => ioas.header(),
            ObjectKind::Access(access) => access.header(),
            ObjectKind::Device(idev) => idev.header(),
            ObjectKind::HwptPaging(hwpt) => hwpt.header(),
            ObjectKind::HwptNested(hwpt) => hwpt.header(),
            ObjectKind::Fault(fault) => fault.header(),
            ObjectKind::Viommu(viommu) => viommu.header(),
            ObjectKind::VDevice(vdev) => vdev.header(),
            ObjectKind::VEventq(q) => q.header(),
            ObjectKind::HwQueue(q) => q.header(),
            #[cfg(CONFIG_IOMMUFD_TEST)]
            ObjectKind::Selftest(st) => st.header(),
        }
    }
}
