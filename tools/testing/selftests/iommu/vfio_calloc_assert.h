/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * calloc_assert() for the kernel's tools/testing/selftests/vfio library, whose 7.2.x
 * copies call it without defining it (lib/vfio_pci_device.c). scripts/build-vfio-selftests.sh
 * force-includes this header (-include) only into a tree that lacks it, so the tests
 * build unmodified. It allocates as calloc() and stops the test if that fails, as the
 * library's other *_assert() helpers do.
 */
#ifndef __IOMMUFD_RS_VFIO_CALLOC_ASSERT_H
#define __IOMMUFD_RS_VFIO_CALLOC_ASSERT_H

#include <stdio.h>
#include <stdlib.h>

static inline void *calloc_assert(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb, size);

	if (!p) {
		fprintf(stderr, "calloc(%zu, %zu) failed\n", nmemb, size);
		exit(1);
	}
	return p;
}

#endif
