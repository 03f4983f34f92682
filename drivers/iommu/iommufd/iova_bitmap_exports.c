// SPDX-License-Identifier: GPL-2.0
/*
 * Exports of the Rust iova_bitmap (iova_bitmap_rs.rs) to modules, under the
 * names, signatures (include/linux/iova_bitmap.h) and namespace of the C one.
 */
#include <linux/export.h>
#include <linux/iova_bitmap.h>

EXPORT_SYMBOL_NS_GPL(iova_bitmap_alloc, "IOMMUFD");
EXPORT_SYMBOL_NS_GPL(iova_bitmap_free, "IOMMUFD");
EXPORT_SYMBOL_NS_GPL(iova_bitmap_for_each, "IOMMUFD");
EXPORT_SYMBOL_NS_GPL(iova_bitmap_set, "IOMMUFD");
