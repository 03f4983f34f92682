/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The fixture of the RLIMIT_MEMLOCK tests, in both accounting modes: charged
 * to the user (IOMMU_OPTION_RLIMIT_MODE 0, the default) or to the mm (mode 1,
 * shown as VmLck). Each test drops CAP_IPC_LOCK and sets its own limit.
 */
#ifndef __IOMMUFD_RS_LIMIT_H
#define __IOMMUFD_RS_LIMIT_H

#include "kselftest_harness.h"
#include "iommufd_rs_utils.h"

/* Pages of self->buf. */
#define LIMIT_BUF_PAGES 64

FIXTURE(limit)
{
	int fd;
	uint8_t *buf;
};

FIXTURE_VARIANT(limit)
{
	uint64_t mode;
};

FIXTURE_VARIANT_ADD(limit, user)
{
	.mode = 0,
};

FIXTURE_VARIANT_ADD(limit, mm)
{
	.mode = 1,
};

FIXTURE_SETUP(limit)
{
	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->fd);
	self->buf = map_aligned(LIMIT_BUF_PAGES * PAGE, PAGE);
	ASSERT_NE(NULL, self->buf);
	memset(self->buf, 1, LIMIT_BUF_PAGES * PAGE);
}

FIXTURE_TEARDOWN(limit)
{
	close(self->fd);
}

#endif
