// SPDX-License-Identifier: GPL-2.0

#include <linux/mm.h>

__rust_helper int rust_helper_page_ref_count(const struct page *page)
{
	return page_ref_count(page);
}

__rust_helper bool rust_helper_PageCompound(const struct page *page)
{
	return PageCompound(page);
}

__rust_helper void rust_helper_put_page(struct page *page)
{
	put_page(page);
}
