// SPDX-License-Identifier: GPL-2.0
/*
 * The in-kernel API of the Rust iommufd (kapi.rs and kapi/), exported under the
 * names, signatures (include/linux/iommufd.h) and namespaces of the C one, so
 * that VFIO links against this module unmodified. Also the module parameter
 * allow_unsafe_interrupts, writable at run time through sysfs as in C (Rust
 * module parameters are set once, at load).
 */
#include <linux/export.h>
#include <linux/iommufd.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

bool iommufd_rs_allow_unsafe_interrupts;
module_param_named(allow_unsafe_interrupts, iommufd_rs_allow_unsafe_interrupts,
		   bool, 0644);
MODULE_PARM_DESC(allow_unsafe_interrupts,
		 "Allow IOMMUFD to bind to devices even if the platform cannot isolate "
		 "the MSI interrupt window. Enabling this is a security weakness.");

EXPORT_SYMBOL_NS_GPL(iommufd_ctx_from_file, "IOMMUFD");
EXPORT_SYMBOL_NS_GPL(iommufd_ctx_from_fd, "IOMMUFD");
EXPORT_SYMBOL_NS_GPL(iommufd_ctx_get, "IOMMUFD");
EXPORT_SYMBOL_NS_GPL(iommufd_ctx_put, "IOMMUFD");
EXPORT_SYMBOL_NS_GPL(iommufd_ctx_has_group, "IOMMUFD");

EXPORT_SYMBOL_NS_GPL(iommufd_device_bind, "IOMMUFD");
EXPORT_SYMBOL_NS_GPL(iommufd_device_unbind, "IOMMUFD");
EXPORT_SYMBOL_NS_GPL(iommufd_device_attach, "IOMMUFD");
EXPORT_SYMBOL_NS_GPL(iommufd_device_replace, "IOMMUFD");
EXPORT_SYMBOL_NS_GPL(iommufd_device_detach, "IOMMUFD");
EXPORT_SYMBOL_NS_GPL(iommufd_device_to_ictx, "IOMMUFD");
EXPORT_SYMBOL_NS_GPL(iommufd_device_to_id, "IOMMUFD");

EXPORT_SYMBOL_NS_GPL(iommufd_access_create, "IOMMUFD");
EXPORT_SYMBOL_NS_GPL(iommufd_access_destroy, "IOMMUFD");
EXPORT_SYMBOL_NS_GPL(iommufd_access_attach, "IOMMUFD");
EXPORT_SYMBOL_NS_GPL(iommufd_access_replace, "IOMMUFD");
EXPORT_SYMBOL_NS_GPL(iommufd_access_detach, "IOMMUFD");
EXPORT_SYMBOL_NS_GPL(iommufd_access_pin_pages, "IOMMUFD");
EXPORT_SYMBOL_NS_GPL(iommufd_access_unpin_pages, "IOMMUFD");
EXPORT_SYMBOL_NS_GPL(iommufd_access_rw, "IOMMUFD");

EXPORT_SYMBOL_NS_GPL(iommufd_vfio_compat_ioas_get_id, "IOMMUFD_VFIO");
EXPORT_SYMBOL_NS_GPL(iommufd_vfio_compat_ioas_create, "IOMMUFD_VFIO");
EXPORT_SYMBOL_NS_GPL(iommufd_vfio_compat_set_no_iommu, "IOMMUFD_VFIO");

#if IS_ENABLED(CONFIG_IOMMUFD_VFIO_CONTAINER)
MODULE_ALIAS_MISCDEV(VFIO_MINOR);
MODULE_ALIAS("devname:vfio/vfio");
#endif
