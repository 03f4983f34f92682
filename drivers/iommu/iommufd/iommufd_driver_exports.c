// SPDX-License-Identifier: GPL-2.0
/*
 * Exports of the iommufd driver core (iommufd_driver_rs.rs), built into the
 * kernel, under the names, signatures (include/linux/iommufd.h,
 * drivers/iommu/iommu-priv.h) and namespaces of the C one. The operations the
 * module lends it are for the module alone (namespace IOMMUFD_INTERNAL).
 */
#include <linux/export.h>
#include <linux/iommufd.h>
#include <linux/module.h>

#include "../iommu-priv.h"
#include "driver_core.h"

EXPORT_SYMBOL_NS_GPL(_iommufd_object_depend, "IOMMUFD");
EXPORT_SYMBOL_NS_GPL(_iommufd_object_undepend, "IOMMUFD");
EXPORT_SYMBOL_NS_GPL(_iommufd_alloc_mmap, "IOMMUFD");
EXPORT_SYMBOL_NS_GPL(_iommufd_destroy_mmap, "IOMMUFD");
EXPORT_SYMBOL_NS_GPL(iommufd_vdevice_to_device, "IOMMUFD");
EXPORT_SYMBOL_NS_GPL(iommufd_viommu_find_dev, "IOMMUFD");
EXPORT_SYMBOL_NS_GPL(iommufd_viommu_get_vdev_id, "IOMMUFD");
EXPORT_SYMBOL_NS_GPL(iommufd_viommu_report_event, "IOMMUFD");
#ifdef CONFIG_IRQ_MSI_IOMMU
EXPORT_SYMBOL_NS_GPL(iommufd_sw_msi, "IOMMUFD");
#endif

EXPORT_SYMBOL_NS_GPL(iommufd_driver_core_register, "IOMMUFD_INTERNAL");
EXPORT_SYMBOL_NS_GPL(iommufd_driver_core_unregister, "IOMMUFD_INTERNAL");
