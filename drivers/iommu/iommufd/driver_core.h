/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Between the built-in iommufd driver core (iommufd_driver_rs.rs) and the
 * iommufd module.
 *
 * IOMMU drivers and the iommu core may be built in, so the functions they call
 * (include/linux/iommufd.h under CONFIG_IOMMUFD_DRIVER_CORE, and
 * iommufd_sw_msi()) live in the kernel image. What they act on, the objects of
 * an iommufd file, belongs to the module: while it is loaded it lends the
 * driver core these operations. Every call names an object of the module, and
 * an object exists only while a file of the module is open, so the operations
 * outlive every call that can reach them.
 */
#ifndef __IOMMUFD_DRIVER_CORE_H
#define __IOMMUFD_DRIVER_CORE_H

#include <linux/iommufd.h>
#include <linux/msi.h>

/**
 * struct iommufd_driver_core_ops - what the module does for the driver core
 * @object_depend: make @depended outlive @dependent; both are objects of the
 *                 same type, not the same object (the core checked)
 * @object_undepend: undo @object_depend
 * @alloc_mmap: as _iommufd_alloc_mmap()
 * @destroy_mmap: as _iommufd_destroy_mmap()
 * @device_of: the struct device of a bound device (iommufd_device_bind())
 * @report_event: as iommufd_viommu_report_event(), arguments checked
 * @sw_msi: as iommufd_sw_msi(), for a domain of an iommufd HWPT
 */
struct iommufd_driver_core_ops {
	int (*object_depend)(struct iommufd_object *dependent,
			     struct iommufd_object *depended);
	void (*object_undepend)(struct iommufd_object *dependent,
				struct iommufd_object *depended);
	int (*alloc_mmap)(struct iommufd_ctx *ictx,
			  struct iommufd_object *owner, phys_addr_t mmio_addr,
			  size_t length, unsigned long *offset);
	void (*destroy_mmap)(struct iommufd_ctx *ictx,
			     struct iommufd_object *owner,
			     unsigned long offset);
	struct device *(*device_of)(struct iommufd_device *idev);
	int (*report_event)(struct iommufd_viommu *viommu,
			    enum iommu_veventq_type type, void *event_data,
			    size_t data_len);
	int (*sw_msi)(struct iommu_domain *domain, struct msi_desc *desc,
		      phys_addr_t msi_addr);
};

int iommufd_driver_core_register(const struct iommufd_driver_core_ops *ops);
void iommufd_driver_core_unregister(const struct iommufd_driver_core_ops *ops);

#endif
