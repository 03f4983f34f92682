// SPDX-License-Identifier: GPL-2.0-only
/*
 * Selftests of the Rust iommufd's live view, which the C iommufd lacks (every case
 * is in c-impl.skip): /proc/self/fdinfo of a /dev/iommu descriptor says how many
 * objects of each kind the context holds and how many bytes it pins, each page
 * once however many mappings share it.
 *
 * Each value is checked against what the test did: objects it made and destroyed,
 * pages a mock domain pinned (and VmPin of /proc/self/status agreeing), pages
 * shared by IOMMU_IOAS_COPY.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/iommu.h>

#include "kselftest_harness.h"
#include "iommufd_rs_utils.h"
#include "../../../../drivers/iommu/iommufd/iommufd_test.h"

/* Inside the mock domain's aperture (MOCK_APERTURE_START..LAST). */
#define IOVA ((uint64_t)MOCK_APERTURE_START)

/* The value of "key:\t<n>" in the fdinfo of fd; -1 if absent or not a number. */
static long fdinfo_value(int fd, const char *key)
{
	char path[64], line[128];
	size_t klen = strlen(key);
	long val = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *end;

		if (strncmp(line, key, klen) || line[klen] != ':' || line[klen + 1] != '\t')
			continue;
		val = strtol(line + klen + 2, &end, 10);
		if (end == line + klen + 2 || *end != '\n')
			val = -1;
		break;
	}
	fclose(f);
	return val;
}

FIXTURE(view)
{
	int fd;
	uint32_t ioas;
	uint8_t *buf;
};

FIXTURE_SETUP(view)
{
	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas));
	self->buf = map_aligned(64 * PAGE, HPAGE);
	ASSERT_NE(NULL, self->buf);
	memset(self->buf, 0x5a, 64 * PAGE);
}

FIXTURE_TEARDOWN(view)
{
	close(self->fd);
}

/* Every kind has a line; the counts follow creation and destruction. */
TEST_F(view, counts_objects_by_kind)
{
	static const char *const kinds[] = {
		"iommufd-ioas", "iommufd-access", "iommufd-device", "iommufd-hwpt_paging",
		"iommufd-hwpt_nested", "iommufd-fault", "iommufd-viommu", "iommufd-vdevice",
		"iommufd-veventq", "iommufd-hw_queue", "iommufd-selftest",
	};
	uint32_t ioas2, stdev, hwpt;

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		EXPECT_LE(0, fdinfo_value(self->fd, kinds[i]));
	EXPECT_EQ(1, fdinfo_value(self->fd, "iommufd-objects"));
	EXPECT_EQ(1, fdinfo_value(self->fd, "iommufd-ioas"));

	ASSERT_EQ(0, ioas_alloc(self->fd, &ioas2));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas, &stdev, &hwpt));
	EXPECT_EQ(2, fdinfo_value(self->fd, "iommufd-ioas"));
	/* The mock device is a test object and a device; its domain an automatic HWPT. */
	EXPECT_EQ(1, fdinfo_value(self->fd, "iommufd-selftest"));
	EXPECT_EQ(1, fdinfo_value(self->fd, "iommufd-device"));
	EXPECT_EQ(1, fdinfo_value(self->fd, "iommufd-hwpt_paging"));
	EXPECT_EQ(5, fdinfo_value(self->fd, "iommufd-objects"));

	ASSERT_EQ(0, destroy(self->fd, stdev));
	ASSERT_EQ(0, destroy(self->fd, ioas2));
	/* The automatic HWPT went with its last device. */
	EXPECT_EQ(0, fdinfo_value(self->fd, "iommufd-hwpt_paging"));
	EXPECT_EQ(0, fdinfo_value(self->fd, "iommufd-device"));
	EXPECT_EQ(1, fdinfo_value(self->fd, "iommufd-objects"));
}

/* Pinned bytes: nothing until a domain pins, then what it pinned, then nothing. */
TEST_F(view, pinned_bytes_follow_the_domain)
{
	long pin0 = vm_pinned_kb();
	uint32_t stdev;

	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, 16 * PAGE, IOVA));
	/* Mapping is lazy: nothing is pinned without a device. */
	EXPECT_EQ(0, fdinfo_value(self->fd, "iommufd-pinned-bytes"));

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas, &stdev, NULL));
	EXPECT_EQ((long)(16 * PAGE), fdinfo_value(self->fd, "iommufd-pinned-bytes"));
	EXPECT_EQ(pin0 + PAGES_KB(16), vm_pinned_kb());
	EXPECT_EQ(0, check_refs(self->fd, self->buf, 16 * PAGE, 1));

	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf + 16 * PAGE, 8 * PAGE,
			       IOVA + 16 * PAGE));
	EXPECT_EQ((long)(24 * PAGE), fdinfo_value(self->fd, "iommufd-pinned-bytes"));

	ASSERT_EQ(0, unmap(self->fd, self->ioas, IOVA, 16 * PAGE, NULL));
	EXPECT_EQ((long)(8 * PAGE), fdinfo_value(self->fd, "iommufd-pinned-bytes"));
	EXPECT_EQ(pin0 + PAGES_KB(8), vm_pinned_kb());

	ASSERT_EQ(0, destroy(self->fd, stdev));
	EXPECT_EQ(0, fdinfo_value(self->fd, "iommufd-pinned-bytes"));
	EXPECT_EQ(pin0, vm_pinned_kb());
}

/* Pages that IOMMU_IOAS_COPY shares between two IOAS count once, as they pin once. */
TEST_F(view, shared_pages_count_once)
{
	uint32_t ioas2, stdev1, stdev2;

	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, 32 * PAGE, IOVA));
	ASSERT_EQ(0, ioas_alloc(self->fd, &ioas2));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas, &stdev1, NULL));
	uint64_t dst = IOVA;

	ASSERT_EQ(0, copy(self->fd, ioas2, self->ioas, IOMMU_IOAS_MAP_FIXED_IOVA | RW, IOVA,
			  32 * PAGE, &dst));
	ASSERT_EQ(0, mock_domain(self->fd, ioas2, &stdev2, NULL));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, 32 * PAGE, 1));
	EXPECT_EQ((long)(32 * PAGE), fdinfo_value(self->fd, "iommufd-pinned-bytes"));
	ASSERT_EQ(0, destroy(self->fd, stdev1));
	ASSERT_EQ(0, destroy(self->fd, stdev2));
	EXPECT_EQ(0, fdinfo_value(self->fd, "iommufd-pinned-bytes"));
}

/* Two contexts: each one's fdinfo counts its own. */
TEST_F(view, per_context)
{
	int fd2 = open("/dev/iommu", O_RDWR);
	uint32_t ioas2, stdev;

	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, ioas_alloc(fd2, &ioas2));
	ASSERT_EQ(0, map_fixed(fd2, ioas2, self->buf, 4 * PAGE, IOVA));
	ASSERT_EQ(0, mock_domain(fd2, ioas2, &stdev, NULL));
	EXPECT_EQ((long)(4 * PAGE), fdinfo_value(fd2, "iommufd-pinned-bytes"));
	EXPECT_EQ(0, fdinfo_value(self->fd, "iommufd-pinned-bytes"));
	EXPECT_EQ(1, fdinfo_value(self->fd, "iommufd-objects"));
	close(fd2);
}

struct churn {
	int fd;
	uint32_t ioas;
	uint8_t *buf;
	volatile int stop;
	int errors;
};

static void *churn_maps(void *arg)
{
	struct churn *c = arg;

	while (!c->stop) {
		if (map_fixed(c->fd, c->ioas, c->buf, 8 * PAGE, IOVA) ||
		    unmap(c->fd, c->ioas, IOVA, 8 * PAGE, NULL))
			c->errors++;
	}
	return NULL;
}

/* Reading while another thread maps and unmaps sees the table between operations. */
TEST_F(view, consistent_under_concurrent_maps)
{
	struct churn c = { .fd = self->fd, .ioas = self->ioas, .buf = self->buf };
	uint32_t stdev;
	pthread_t t;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas, &stdev, NULL));
	ASSERT_EQ(0, pthread_create(&t, NULL, churn_maps, &c));
	for (int i = 0; i < 300; i++) {
		long v = fdinfo_value(self->fd, "iommufd-pinned-bytes");

		/* Either the whole mapping is pinned or none of it. */
		if (v != 0 && v != (long)(8 * PAGE)) {
			c.stop = 1;
			pthread_join(t, NULL);
			ASSERT_EQ(0, v);
		}
	}
	c.stop = 1;
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, c.errors);
	EXPECT_EQ(0, fdinfo_value(self->fd, "iommufd-pinned-bytes"));
}

TEST_HARNESS_MAIN
