// SPDX-License-Identifier: GPL-2.0

#include <linux/iommu.h>

__rust_helper void rust_helper_iommu_iotlb_gather_init(struct iommu_iotlb_gather *gather)
{
	iommu_iotlb_gather_init(gather);
}

__rust_helper void rust_helper_iommu_iotlb_sync(struct iommu_domain *domain,
						struct iommu_iotlb_gather *iotlb_gather)
{
	iommu_iotlb_sync(domain, iotlb_gather);
}
