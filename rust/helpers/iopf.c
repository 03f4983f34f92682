// SPDX-License-Identifier: GPL-2.0

#include <linux/iommu.h>

/*
 * Without CONFIG_IOMMU_IOPF (no IOMMU driver of the kernel handles page requests)
 * the iommu core's IO page fault functions are static inline stubs that report
 * -ENODEV or do nothing. These helpers give Rust those stubs under the functions'
 * own names; with CONFIG_IOMMU_IOPF Rust binds the real functions instead.
 */
#ifndef CONFIG_IOMMU_IOPF
__rust_helper int rust_helper_iopf_queue_add_device(struct iopf_queue *queue,
						    struct device *dev)
{
	return iopf_queue_add_device(queue, dev);
}

__rust_helper void rust_helper_iopf_queue_remove_device(struct iopf_queue *queue,
							struct device *dev)
{
	iopf_queue_remove_device(queue, dev);
}

__rust_helper struct iopf_queue *rust_helper_iopf_queue_alloc(const char *name)
{
	return iopf_queue_alloc(name);
}

__rust_helper void rust_helper_iopf_queue_free(struct iopf_queue *queue)
{
	iopf_queue_free(queue);
}

__rust_helper void rust_helper_iopf_free_group(struct iopf_group *group)
{
	iopf_free_group(group);
}

__rust_helper int rust_helper_iommu_report_device_fault(struct device *dev,
							struct iopf_fault *evt)
{
	return iommu_report_device_fault(dev, evt);
}

__rust_helper void rust_helper_iopf_group_response(struct iopf_group *group,
						   enum iommu_page_response_code status)
{
	iopf_group_response(group, status);
}

__rust_helper void rust_helper_iopf_group_dequeue(struct iopf_group *group)
{
	iopf_group_dequeue(group);
}
#endif
