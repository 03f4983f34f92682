// SPDX-License-Identifier: GPL-2.0

#include <linux/msi.h>

__rust_helper void rust_helper_msi_desc_set_iommu_msi_iova(struct msi_desc *desc,
							   u64 msi_iova,
							   unsigned int msi_shift)
{
	msi_desc_set_iommu_msi_iova(desc, msi_iova, msi_shift);
}
