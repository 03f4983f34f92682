// SPDX-License-Identifier: GPL-2.0

#include <linux/mm.h>

__rust_helper int rust_helper_io_remap_pfn_range(struct vm_area_struct *vma,
						 unsigned long addr,
						 unsigned long pfn,
						 unsigned long size,
						 pgprot_t prot)
{
	return io_remap_pfn_range(vma, addr, pfn, size, prot);
}

__rust_helper pgprot_t rust_helper_pgprot_noncached(pgprot_t prot)
{
	return pgprot_noncached(prot);
}
