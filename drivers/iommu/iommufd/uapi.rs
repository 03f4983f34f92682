// SPDX-License-Identifier: GPL-2.0

//! The user ABI: the structs of `include/uapi/linux/iommu.h` as Rust types.
//!
//! [`kernel::uapi`] holds the bindings generated from the project's header; [`abi_check`]
//! proves at compile time that they match the kernel tree's `iommufd.h` (which
//! [`kernel::bindings`] holds) field for field.
//!
//! Each ioctl struct gets a `#[repr(transparent)]` wrapper that may be read from and written
//! to user memory ([`FromBytes`], [`AsBytes`]) and that knows the smallest size a caller may
//! pass ([`IoctlStruct::MIN_SIZE`]: up to and including its last field of the first version).

use core::ops::{Deref, DerefMut};
use kernel::{
    transmute::{AsBytes, FromBytes},
    uapi,
};

mod abi_check;

/// A size-prefixed ioctl argument struct.
///
/// # Safety
///
/// Implementors must be `#[repr(transparent)]` over a `#[repr(C)]` uAPI struct without
/// padding, whose first field is the `__u32 size`, so that any bytes are a valid value and the
/// value has no uninitialised bytes.
pub(crate) unsafe trait IoctlStruct: FromBytes + AsBytes + Sized {
    /// Bytes up to and including the last field of the first version of the struct.
    const MIN_SIZE: usize;

    /// The all-zero value.
    fn zeroed() -> Self {
        // SAFETY: By the trait's safety requirement every bit pattern, zero included, is a
        // valid value.
        unsafe { core::mem::zeroed() }
    }
}

/// Size in bytes of the field that `_f` projects to.
pub(crate) const fn field_size<T, F>(_f: fn(&T) -> &F) -> usize {
    core::mem::size_of::<F>()
}

/// Declares a `#[repr(transparent)]` wrapper of a padding-free uAPI record that is read
/// from or written to user memory as is: `Name = uapi_struct;`.
macro_rules! user_record {
    ($($(#[$meta:meta])* $name:ident = $raw:ident;)*) => {$(
        $(#[$meta])*
        #[repr(transparent)]
        #[derive(Clone, Copy)]
        pub(crate) struct $name(pub(crate) uapi::$raw);

        // SAFETY: `uapi::$raw` is a `#[repr(C)]` struct of integers without padding
        // (`abi_check` compares its size with C's), so any bytes are a valid value.
        unsafe impl FromBytes for $name {}
        // SAFETY: As above, no padding: every byte is initialised.
        unsafe impl AsBytes for $name {}
    )*};
}

/// Declares the wrapper of one ioctl struct: `Name = uapi_struct, last_field`.
macro_rules! ioctl_struct {
    ($($(#[$meta:meta])* $name:ident = $raw:ident, $last:ident;)*) => {$(
        user_record! {
            $(#[$meta])*
            $name = $raw;
        }

        // SAFETY: `#[repr(transparent)]` over a padding-free uAPI struct whose first field is
        // its size.
        unsafe impl IoctlStruct for $name {
            const MIN_SIZE: usize = core::mem::offset_of!(uapi::$raw, $last)
                + field_size(|s: &uapi::$raw| &s.$last);
        }

        impl Deref for $name {
            type Target = uapi::$raw;
            fn deref(&self) -> &Self::Target {
                &self.0
            }
        }

        impl DerefMut for $name {
            fn deref_mut(&mut self) -> &mut Self::Target {
                &mut self.0
            }
        }
    )*};
}

ioctl_struct! {
    /// `IOMMU_DESTROY`.
    Destroy = iommu_destroy, id;
    /// `IOMMU_IOAS_ALLOC`.
    IoasAlloc = iommu_ioas_alloc, out_ioas_id;
    /// `IOMMU_IOAS_IOVA_RANGES`.
    IoasIovaRanges = iommu_ioas_iova_ranges, out_iova_alignment;
    /// `IOMMU_OPTION`.
    IommuOption = iommu_option, val64;
    /// `IOMMU_IOAS_ALLOW_IOVAS`.
    IoasAllowIovas = iommu_ioas_allow_iovas, allowed_iovas;
    /// `IOMMU_IOAS_MAP`.
    IoasMap = iommu_ioas_map, iova;
    /// `IOMMU_IOAS_MAP_FILE`.
    IoasMapFile = iommu_ioas_map_file, iova;
    /// `IOMMU_IOAS_UNMAP`.
    IoasUnmap = iommu_ioas_unmap, length;
    /// `IOMMU_IOAS_COPY`.
    IoasCopy = iommu_ioas_copy, src_iova;
    /// `IOMMU_VFIO_IOAS`.
    VfioIoas = iommu_vfio_ioas, __reserved;
    /// `IOMMU_IOAS_CHANGE_PROCESS`.
    IoasChangeProcess = iommu_ioas_change_process, __reserved;
    /// `IOMMU_HWPT_ALLOC`.
    HwptAlloc = iommu_hwpt_alloc, __reserved;
    /// `IOMMU_GET_HW_INFO`.
    HwInfo = iommu_hw_info, __reserved;
    /// `IOMMU_HWPT_SET_DIRTY_TRACKING`.
    HwptSetDirtyTracking = iommu_hwpt_set_dirty_tracking, __reserved;
    /// `IOMMU_HWPT_GET_DIRTY_BITMAP`.
    HwptGetDirtyBitmap = iommu_hwpt_get_dirty_bitmap, data;
    /// `IOMMU_HWPT_INVALIDATE`.
    HwptInvalidate = iommu_hwpt_invalidate, __reserved;
    /// `IOMMU_FAULT_QUEUE_ALLOC`.
    FaultAlloc = iommu_fault_alloc, out_fault_fd;
    /// `IOMMU_VIOMMU_ALLOC`.
    ViommuAlloc = iommu_viommu_alloc, out_viommu_id;
    /// `IOMMU_VDEVICE_ALLOC`.
    VdeviceAlloc = iommu_vdevice_alloc, virt_id;
    /// `IOMMU_VEVENTQ_ALLOC`.
    VeventqAlloc = iommu_veventq_alloc, out_veventq_fd;
    /// `IOMMU_HW_QUEUE_ALLOC`.
    HwQueueAlloc = iommu_hw_queue_alloc, length;
}

#[cfg(CONFIG_IOMMUFD_TEST)]
ioctl_struct! {
    /// `IOMMU_TEST_CMD`.
    TestCmd = iommu_test_cmd, last;
}

user_record! {
    /// A fault record read from a fault queue's file.
    PgFault = iommu_hwpt_pgfault;
    /// A response written to a fault queue's file.
    PageResponse = iommu_hwpt_page_response;
    /// The header of an event read from a vEVENTQ's file.
    VEventHeader = iommufd_vevent_header;
}

/// One entry of the array `IOMMU_IOAS_IOVA_RANGES` and `IOMMU_IOAS_ALLOW_IOVAS` take.
#[repr(transparent)]
#[derive(Clone, Copy)]
pub(crate) struct IovaRange(pub(crate) uapi::iommu_iova_range);

// SAFETY: Two `__aligned_u64`, no padding: any bytes are a valid value.
unsafe impl FromBytes for IovaRange {}
// SAFETY: Two `__aligned_u64`, no padding: every byte is initialised.
unsafe impl AsBytes for IovaRange {}

/// The type of every iommufd ioctl number (`_IOC_TYPE`).
pub(crate) const IOMMUFD_TYPE: u32 = b';' as u32;

/// The ioctl number of command `nr` (`_IO(IOMMUFD_TYPE, nr)`).
pub(crate) const fn iommufd_ioctl(nr: u32) -> u32 {
    kernel::ioctl::_IO(IOMMUFD_TYPE, nr)
}

/// `IOMMUFD_CMD_*` numbers, as `u32`.
pub(crate) mod cmd {
    use kernel::uapi;

    /// The first command number.
    pub(crate) const BASE: u32 = uapi::IOMMUFD_CMD_BASE;
    /// `IOMMU_DESTROY`.
    pub(crate) const DESTROY: u32 = uapi::IOMMUFD_CMD_DESTROY;
    /// `IOMMU_IOAS_ALLOC`.
    pub(crate) const IOAS_ALLOC: u32 = uapi::IOMMUFD_CMD_IOAS_ALLOC;
    /// `IOMMU_IOAS_IOVA_RANGES`.
    pub(crate) const IOAS_IOVA_RANGES: u32 = uapi::IOMMUFD_CMD_IOAS_IOVA_RANGES;
    /// `IOMMU_OPTION`.
    pub(crate) const OPTION: u32 = uapi::IOMMUFD_CMD_OPTION;
    /// `IOMMU_IOAS_ALLOW_IOVAS`.
    pub(crate) const IOAS_ALLOW_IOVAS: u32 = uapi::IOMMUFD_CMD_IOAS_ALLOW_IOVAS;
    /// `IOMMU_IOAS_MAP`.
    pub(crate) const IOAS_MAP: u32 = uapi::IOMMUFD_CMD_IOAS_MAP;
    /// `IOMMU_IOAS_MAP_FILE`.
    pub(crate) const IOAS_MAP_FILE: u32 = uapi::IOMMUFD_CMD_IOAS_MAP_FILE;
    /// `IOMMU_IOAS_UNMAP`.
    pub(crate) const IOAS_UNMAP: u32 = uapi::IOMMUFD_CMD_IOAS_UNMAP;
    /// `IOMMU_IOAS_COPY`.
    pub(crate) const IOAS_COPY: u32 = uapi::IOMMUFD_CMD_IOAS_COPY;
    /// `IOMMU_VFIO_IOAS`.
    pub(crate) const VFIO_IOAS: u32 = uapi::IOMMUFD_CMD_VFIO_IOAS;
    /// `IOMMU_IOAS_CHANGE_PROCESS`.
    pub(crate) const IOAS_CHANGE_PROCESS: u32 = uapi::IOMMUFD_CMD_IOAS_CHANGE_PROCESS;
    /// `IOMMU_HWPT_ALLOC`.
    pub(crate) const HWPT_ALLOC: u32 = uapi::IOMMUFD_CMD_HWPT_ALLOC;
    /// `IOMMU_GET_HW_INFO`.
    pub(crate) const GET_HW_INFO: u32 = uapi::IOMMUFD_CMD_GET_HW_INFO;
    /// `IOMMU_HWPT_SET_DIRTY_TRACKING`.
    pub(crate) const HWPT_SET_DIRTY_TRACKING: u32 = uapi::IOMMUFD_CMD_HWPT_SET_DIRTY_TRACKING;
    /// `IOMMU_HWPT_GET_DIRTY_BITMAP`.
    pub(crate) const HWPT_GET_DIRTY_BITMAP: u32 = uapi::IOMMUFD_CMD_HWPT_GET_DIRTY_BITMAP;
    /// `IOMMU_HWPT_INVALIDATE`.
    pub(crate) const HWPT_INVALIDATE: u32 = uapi::IOMMUFD_CMD_HWPT_INVALIDATE;
    /// `IOMMU_FAULT_QUEUE_ALLOC`.
    pub(crate) const FAULT_QUEUE_ALLOC: u32 = uapi::IOMMUFD_CMD_FAULT_QUEUE_ALLOC;
    /// `IOMMU_VIOMMU_ALLOC`.
    pub(crate) const VIOMMU_ALLOC: u32 = uapi::IOMMUFD_CMD_VIOMMU_ALLOC;
    /// `IOMMU_VDEVICE_ALLOC`.
    pub(crate) const VDEVICE_ALLOC: u32 = uapi::IOMMUFD_CMD_VDEVICE_ALLOC;
    /// `IOMMU_VEVENTQ_ALLOC`.
    pub(crate) const VEVENTQ_ALLOC: u32 = uapi::IOMMUFD_CMD_VEVENTQ_ALLOC;
    /// `IOMMU_HW_QUEUE_ALLOC`.
    pub(crate) const HW_QUEUE_ALLOC: u32 = uapi::IOMMUFD_CMD_HW_QUEUE_ALLOC;
    /// `IOMMU_TEST_CMD`.
    #[cfg(CONFIG_IOMMUFD_TEST)]
    pub(crate) const TEST: u32 = BASE + 32;
    /// The last command number.
    #[cfg(not(CONFIG_IOMMUFD_TEST))]
    pub(crate) const LAST: u32 = uapi::IOMMUFD_CMD_HW_QUEUE_ALLOC;
    /// The last command number.
    #[cfg(CONFIG_IOMMUFD_TEST)]
    pub(crate) const LAST: u32 = TEST;
}

/// `enum iommufd_ioas_map_flags`.
/// `IOMMU_HWPT_ALLOC` flags and data types.
pub(crate) mod hwpt_flags {
    use kernel::uapi;

    /// `IOMMU_HWPT_ALLOC_NEST_PARENT`.
    pub(crate) const NEST_PARENT: u32 = uapi::iommufd_hwpt_alloc_flags_IOMMU_HWPT_ALLOC_NEST_PARENT;
    /// `IOMMU_HWPT_ALLOC_DIRTY_TRACKING`.
    pub(crate) const DIRTY_TRACKING: u32 =
        uapi::iommufd_hwpt_alloc_flags_IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
    /// `IOMMU_HWPT_FAULT_ID_VALID`.
    pub(crate) const FAULT_ID_VALID: u32 = uapi::iommufd_hwpt_alloc_flags_IOMMU_HWPT_FAULT_ID_VALID;
    /// `IOMMU_HWPT_ALLOC_PASID`.
    pub(crate) const PASID: u32 = uapi::iommufd_hwpt_alloc_flags_IOMMU_HWPT_ALLOC_PASID;
    /// `IOMMU_HWPT_DATA_NONE`.
    pub(crate) const DATA_NONE: u32 = uapi::iommu_hwpt_data_type_IOMMU_HWPT_DATA_NONE;
}

/// `IOMMU_GET_HW_INFO` flags, types and capabilities.
pub(crate) mod hw_info {
    use kernel::uapi;

    /// `IOMMU_HW_INFO_FLAG_INPUT_TYPE`.
    pub(crate) const FLAG_INPUT_TYPE: u32 =
        uapi::iommufd_hw_info_flags_IOMMU_HW_INFO_FLAG_INPUT_TYPE;
    /// `IOMMU_HW_INFO_TYPE_DEFAULT`.
    pub(crate) const TYPE_DEFAULT: u32 = uapi::iommu_hw_info_type_IOMMU_HW_INFO_TYPE_DEFAULT;
    /// `IOMMU_HW_INFO_TYPE_NONE`.
    pub(crate) const TYPE_NONE: u32 = uapi::iommu_hw_info_type_IOMMU_HW_INFO_TYPE_NONE;
    /// `IOMMU_HW_CAP_DIRTY_TRACKING`.
    pub(crate) const CAP_DIRTY_TRACKING: u64 =
        uapi::iommufd_hw_capabilities_IOMMU_HW_CAP_DIRTY_TRACKING as u64;
    /// `IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED`.
    pub(crate) const CAP_PCI_ATS_NOT_SUPPORTED: u64 =
        uapi::iommufd_hw_capabilities_IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED as u64;
    /// `IOMMU_HW_CAP_PCI_PASID_EXEC`.
    pub(crate) const CAP_PCI_PASID_EXEC: u64 =
        uapi::iommufd_hw_capabilities_IOMMU_HW_CAP_PCI_PASID_EXEC as u64;
    /// `IOMMU_HW_CAP_PCI_PASID_PRIV`.
    pub(crate) const CAP_PCI_PASID_PRIV: u64 =
        uapi::iommufd_hw_capabilities_IOMMU_HW_CAP_PCI_PASID_PRIV as u64;
}

pub(crate) mod map_flags {
    use kernel::uapi;

    /// `IOMMU_IOAS_MAP_FIXED_IOVA`.
    pub(crate) const FIXED_IOVA: u32 = uapi::iommufd_ioas_map_flags_IOMMU_IOAS_MAP_FIXED_IOVA;
    /// `IOMMU_IOAS_MAP_WRITEABLE`.
    pub(crate) const WRITEABLE: u32 = uapi::iommufd_ioas_map_flags_IOMMU_IOAS_MAP_WRITEABLE;
    /// `IOMMU_IOAS_MAP_READABLE`.
    pub(crate) const READABLE: u32 = uapi::iommufd_ioas_map_flags_IOMMU_IOAS_MAP_READABLE;
    /// Every flag.
    pub(crate) const ALL: u32 = FIXED_IOVA | WRITEABLE | READABLE;
}

/// `enum iommufd_vfio_ioas_op`.
pub(crate) mod vfio_ioas_op {
    use kernel::uapi;

    /// `IOMMU_VFIO_IOAS_GET`.
    pub(crate) const GET: u16 = uapi::iommufd_vfio_ioas_op_IOMMU_VFIO_IOAS_GET as u16;
    /// `IOMMU_VFIO_IOAS_SET`.
    pub(crate) const SET: u16 = uapi::iommufd_vfio_ioas_op_IOMMU_VFIO_IOAS_SET as u16;
    /// `IOMMU_VFIO_IOAS_CLEAR`.
    pub(crate) const CLEAR: u16 = uapi::iommufd_vfio_ioas_op_IOMMU_VFIO_IOAS_CLEAR as u16;
}

/// `enum iommufd_option` and `enum iommufd_option_ops`.
pub(crate) mod option {
    use kernel::uapi;

    /// `IOMMU_OPTION_RLIMIT_MODE`.
    pub(crate) const RLIMIT_MODE: u32 = uapi::iommufd_option_IOMMU_OPTION_RLIMIT_MODE;
    /// `IOMMU_OPTION_HUGE_PAGES`.
    pub(crate) const HUGE_PAGES: u32 = uapi::iommufd_option_IOMMU_OPTION_HUGE_PAGES;
    /// `IOMMU_OPTION_OP_SET`.
    pub(crate) const OP_SET: u16 = uapi::iommufd_option_ops_IOMMU_OPTION_OP_SET as u16;
    /// `IOMMU_OPTION_OP_GET`.
    pub(crate) const OP_GET: u16 = uapi::iommufd_option_ops_IOMMU_OPTION_OP_GET as u16;
}

impl HwInfo {
    /// The type of hardware information asked for (`in_data_type`, with
    /// `IOMMU_HW_INFO_FLAG_INPUT_TYPE`).
    pub(crate) fn in_data_type(&self) -> u32 {
        // SAFETY: Both members of the union are a `u32`: any value is valid for either.
        unsafe { self.__bindgen_anon_1.in_data_type }
    }
}
