// SPDX-License-Identifier: GPL-2.0

//! Compile-time proof that `include/uapi/linux/iommu.h` is binary compatible with the kernel
//! tree's `include/uapi/linux/iommufd.h`.
//!
//! [`kernel::uapi`] is generated from the project's header and [`kernel::bindings`] from the
//! tree's. For every struct, the size, the alignment and each field's offset and size must be
//! equal, and every enumerator must have the same value; the ioctl numbers follow, as both
//! headers build them with `_IO(IOMMUFD_TYPE, IOMMUFD_CMD_*)`. A field missing from either
//! header is a compile error too. The build fails on any difference. That the list names every
//! struct of the tree's header is checked by `make check` (the `uapi-coverage` test).

use kernel::{bindings as c, uapi as ours};

/// Asserts that `ours::$name` and `c::$name` have the same layout, field by field.
macro_rules! same_layout {
    ($name:ident { $($field:ident),* $(,)? }) => {
        const _: () = {
            use core::mem::{align_of, offset_of, size_of};
            assert!(size_of::<ours::$name>() == size_of::<c::$name>());
            assert!(align_of::<ours::$name>() == align_of::<c::$name>());
            $(
                assert!(offset_of!(ours::$name, $field) == offset_of!(c::$name, $field));
                assert!(
                    super::field_size(|s: &ours::$name| &s.$field)
                        == super::field_size(|s: &c::$name| &s.$field)
                );
            )*
        };
    };
}

/// Asserts that each constant has the same value in both headers.
macro_rules! same_value {
    ($($name:ident),* $(,)?) => {
        $(const _: () = assert!(ours::$name as u64 == c::$name as u64);)*
    };
}

/// The ioctl type is a `#define`, which bindgen keeps as a constant of both.
const _: () = assert!(ours::IOMMUFD_TYPE as u64 == c::IOMMUFD_TYPE as u64);
const _: () = assert!(super::IOMMUFD_TYPE as u64 == c::IOMMUFD_TYPE as u64);

same_layout!(iommu_destroy { size, id });
same_layout!(iommu_ioas_alloc {
    size,
    flags,
    out_ioas_id
});
same_layout!(iommu_iova_range { start, last });
same_layout!(iommu_ioas_iova_ranges {
    size,
    ioas_id,
    num_iovas,
    __reserved,
    allowed_iovas,
    out_iova_alignment
});
same_layout!(iommu_ioas_allow_iovas {
    size,
    ioas_id,
    num_iovas,
    __reserved,
    allowed_iovas
});
same_layout!(iommu_ioas_map {
    size,
    flags,
    ioas_id,
    __reserved,
    user_va,
    length,
    iova
});
same_layout!(iommu_ioas_map_file {
    size,
    flags,
    ioas_id,
    fd,
    start,
    length,
    iova
});
same_layout!(iommu_ioas_copy {
    size,
    flags,
    dst_ioas_id,
    src_ioas_id,
    length,
    dst_iova,
    src_iova
});
same_layout!(iommu_ioas_unmap {
    size,
    ioas_id,
    iova,
    length
});
same_layout!(iommu_option {
    size,
    option_id,
    op,
    __reserved,
    object_id,
    val64
});
same_layout!(iommu_vfio_ioas {
    size,
    ioas_id,
    op,
    __reserved
});
same_layout!(iommu_hwpt_vtd_s1 {
    flags,
    pgtbl_addr,
    addr_width,
    __reserved
});
same_layout!(iommu_hwpt_arm_smmuv3 { ste });
same_layout!(iommu_hwpt_amd_guest { dte });
same_layout!(iommu_hwpt_alloc {
    size,
    flags,
    dev_id,
    pt_id,
    out_hwpt_id,
    __reserved,
    data_type,
    data_len,
    data_uptr,
    fault_id,
    __reserved2
});
same_layout!(iommu_hw_info_vtd {
    flags,
    __reserved,
    cap_reg,
    ecap_reg
});
same_layout!(iommu_hw_info_arm_smmuv3 {
    flags,
    __reserved,
    idr,
    iidr,
    aidr
});
same_layout!(iommu_hw_info_tegra241_cmdqv {
    flags,
    version,
    log2vcmdqs,
    log2vsids,
    __reserved
});
same_layout!(iommu_hw_info_amd { efr, efr2 });
same_layout!(iommu_hw_info {
    size,
    flags,
    dev_id,
    data_len,
    data_uptr,
    __bindgen_anon_1,
    out_max_pasid_log2,
    __reserved,
    out_capabilities
});
same_layout!(iommu_hwpt_set_dirty_tracking {
    size,
    flags,
    hwpt_id,
    __reserved
});
same_layout!(iommu_hwpt_get_dirty_bitmap {
    size,
    hwpt_id,
    flags,
    __reserved,
    iova,
    length,
    page_size,
    data
});
same_layout!(iommu_hwpt_vtd_s1_invalidate {
    addr,
    npages,
    flags,
    __reserved
});
same_layout!(iommu_viommu_arm_smmuv3_invalidate { cmd });
same_layout!(iommu_hwpt_invalidate {
    size,
    hwpt_id,
    data_uptr,
    data_type,
    entry_len,
    entry_num,
    __reserved
});
same_layout!(iommu_hwpt_pgfault {
    flags,
    dev_id,
    pasid,
    grpid,
    perm,
    __reserved,
    addr,
    length,
    cookie
});
same_layout!(iommu_hwpt_page_response { cookie, code });
same_layout!(iommu_fault_alloc {
    size,
    flags,
    out_fault_id,
    out_fault_fd
});
same_layout!(iommu_viommu_tegra241_cmdqv {
    out_vintf_mmap_offset,
    out_vintf_mmap_length
});
same_layout!(iommu_viommu_alloc {
    size,
    flags,
    type_,
    dev_id,
    hwpt_id,
    out_viommu_id,
    data_len,
    __reserved,
    data_uptr
});
same_layout!(iommu_vdevice_alloc {
    size,
    viommu_id,
    dev_id,
    out_vdevice_id,
    virt_id
});
same_layout!(iommu_ioas_change_process { size, __reserved });
same_layout!(iommufd_vevent_header { flags, sequence });
same_layout!(iommu_vevent_arm_smmuv3 { evt });
same_layout!(iommu_vevent_tegra241_cmdqv { lvcmdq_err_map });
same_layout!(iommu_veventq_alloc {
    size,
    flags,
    viommu_id,
    type_,
    veventq_depth,
    out_veventq_id,
    out_veventq_fd,
    __reserved
});
same_layout!(iommu_hw_queue_alloc {
    size,
    flags,
    viommu_id,
    type_,
    index,
    out_hw_queue_id,
    nesting_parent_iova,
    length
});

same_value!(
    IOMMUFD_CMD_BASE,
    IOMMUFD_CMD_DESTROY,
    IOMMUFD_CMD_IOAS_ALLOC,
    IOMMUFD_CMD_IOAS_ALLOW_IOVAS,
    IOMMUFD_CMD_IOAS_COPY,
    IOMMUFD_CMD_IOAS_IOVA_RANGES,
    IOMMUFD_CMD_IOAS_MAP,
    IOMMUFD_CMD_IOAS_UNMAP,
    IOMMUFD_CMD_OPTION,
    IOMMUFD_CMD_VFIO_IOAS,
    IOMMUFD_CMD_HWPT_ALLOC,
    IOMMUFD_CMD_GET_HW_INFO,
    IOMMUFD_CMD_HWPT_SET_DIRTY_TRACKING,
    IOMMUFD_CMD_HWPT_GET_DIRTY_BITMAP,
    IOMMUFD_CMD_HWPT_INVALIDATE,
    IOMMUFD_CMD_FAULT_QUEUE_ALLOC,
    IOMMUFD_CMD_IOAS_MAP_FILE,
    IOMMUFD_CMD_VIOMMU_ALLOC,
    IOMMUFD_CMD_VDEVICE_ALLOC,
    IOMMUFD_CMD_IOAS_CHANGE_PROCESS,
    IOMMUFD_CMD_VEVENTQ_ALLOC,
    IOMMUFD_CMD_HW_QUEUE_ALLOC,
    iommufd_ioas_map_flags_IOMMU_IOAS_MAP_FIXED_IOVA,
    iommufd_ioas_map_flags_IOMMU_IOAS_MAP_WRITEABLE,
    iommufd_ioas_map_flags_IOMMU_IOAS_MAP_READABLE,
    iommufd_option_IOMMU_OPTION_RLIMIT_MODE,
    iommufd_option_IOMMU_OPTION_HUGE_PAGES,
    iommufd_option_ops_IOMMU_OPTION_OP_SET,
    iommufd_option_ops_IOMMU_OPTION_OP_GET,
    iommufd_vfio_ioas_op_IOMMU_VFIO_IOAS_GET,
    iommufd_vfio_ioas_op_IOMMU_VFIO_IOAS_SET,
    iommufd_vfio_ioas_op_IOMMU_VFIO_IOAS_CLEAR,
    iommufd_hwpt_alloc_flags_IOMMU_HWPT_ALLOC_NEST_PARENT,
    iommufd_hwpt_alloc_flags_IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
    iommufd_hwpt_alloc_flags_IOMMU_HWPT_FAULT_ID_VALID,
    iommufd_hwpt_alloc_flags_IOMMU_HWPT_ALLOC_PASID,
    iommu_hwpt_vtd_s1_flags_IOMMU_VTD_S1_SRE,
    iommu_hwpt_vtd_s1_flags_IOMMU_VTD_S1_EAFE,
    iommu_hwpt_vtd_s1_flags_IOMMU_VTD_S1_WPE,
    iommu_hwpt_data_type_IOMMU_HWPT_DATA_NONE,
    iommu_hwpt_data_type_IOMMU_HWPT_DATA_VTD_S1,
    iommu_hwpt_data_type_IOMMU_HWPT_DATA_ARM_SMMUV3,
    iommu_hwpt_data_type_IOMMU_HWPT_DATA_AMD_GUEST,
    iommu_hw_info_vtd_flags_IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17,
    iommu_hw_info_type_IOMMU_HW_INFO_TYPE_NONE,
    iommu_hw_info_type_IOMMU_HW_INFO_TYPE_DEFAULT,
    iommu_hw_info_type_IOMMU_HW_INFO_TYPE_INTEL_VTD,
    iommu_hw_info_type_IOMMU_HW_INFO_TYPE_ARM_SMMUV3,
    iommu_hw_info_type_IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV,
    iommu_hw_info_type_IOMMU_HW_INFO_TYPE_AMD,
    iommufd_hw_capabilities_IOMMU_HW_CAP_DIRTY_TRACKING,
    iommufd_hw_capabilities_IOMMU_HW_CAP_PCI_PASID_EXEC,
    iommufd_hw_capabilities_IOMMU_HW_CAP_PCI_PASID_PRIV,
    iommufd_hw_capabilities_IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED,
    iommufd_hw_info_flags_IOMMU_HW_INFO_FLAG_INPUT_TYPE,
    iommufd_hwpt_set_dirty_tracking_flags_IOMMU_HWPT_DIRTY_TRACKING_ENABLE,
    iommufd_hwpt_get_dirty_bitmap_flags_IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR,
    iommu_hwpt_invalidate_data_type_IOMMU_HWPT_INVALIDATE_DATA_VTD_S1,
    iommu_hwpt_invalidate_data_type_IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3,
    iommu_hwpt_vtd_s1_invalidate_flags_IOMMU_VTD_INV_FLAGS_LEAF,
    iommu_hwpt_pgfault_flags_IOMMU_PGFAULT_FLAGS_PASID_VALID,
    iommu_hwpt_pgfault_flags_IOMMU_PGFAULT_FLAGS_LAST_PAGE,
    iommu_hwpt_pgfault_perm_IOMMU_PGFAULT_PERM_READ,
    iommu_hwpt_pgfault_perm_IOMMU_PGFAULT_PERM_WRITE,
    iommu_hwpt_pgfault_perm_IOMMU_PGFAULT_PERM_EXEC,
    iommu_hwpt_pgfault_perm_IOMMU_PGFAULT_PERM_PRIV,
    iommufd_page_response_code_IOMMUFD_PAGE_RESP_SUCCESS,
    iommufd_page_response_code_IOMMUFD_PAGE_RESP_INVALID,
    iommu_viommu_type_IOMMU_VIOMMU_TYPE_DEFAULT,
    iommu_viommu_type_IOMMU_VIOMMU_TYPE_ARM_SMMUV3,
    iommu_viommu_type_IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV,
    iommu_veventq_flag_IOMMU_VEVENTQ_FLAG_LOST_EVENTS,
    iommu_veventq_type_IOMMU_VEVENTQ_TYPE_DEFAULT,
    iommu_veventq_type_IOMMU_VEVENTQ_TYPE_ARM_SMMUV3,
    iommu_veventq_type_IOMMU_VEVENTQ_TYPE_TEGRA241_CMDQV,
    iommu_hw_queue_type_IOMMU_HW_QUEUE_TYPE_DEFAULT,
    iommu_hw_queue_type_IOMMU_HW_QUEUE_TYPE_TEGRA241_CMDQV,
);
