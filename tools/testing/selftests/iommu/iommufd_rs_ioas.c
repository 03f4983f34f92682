// SPDX-License-Identifier: GPL-2.0-only
/*
 * Selftests of the Rust iommufd: IOAS mappings without a device. MAP, UNMAP,
 * COPY and ALLOW_IOVAS with the C iommufd's semantics and errno: the IOVA the
 * kernel chooses, the unmap superset rule, shared pages on copy, and lazy
 * pinning (nothing is pinned until a domain or an access needs it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/iommu.h>

#include "kselftest_harness.h"
#include "iommufd_rs_utils.h"

static int allow(int fd, uint32_t ioas, const struct iommu_iova_range *r, uint32_t n)
{
	struct iommu_ioas_allow_iovas cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas,
		.num_iovas = n,
		.allowed_iovas = (uintptr_t)r,
	};

	return ioctl(fd, IOMMU_IOAS_ALLOW_IOVAS, &cmd) ? -errno : 0;
}

FIXTURE(ioas)
{
	int fd;
	uint32_t ioas;
	void *buf;
	size_t buf_len;
};

FIXTURE_SETUP(ioas)
{
	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas));
	/* 8 MiB, 2 MiB aligned. */
	self->buf_len = 8 * MB;
	self->buf = mmap(NULL, self->buf_len + 2 * MB, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	self->buf = (void *)(((uintptr_t)self->buf + 2 * MB - 1) & ~(2 * MB - 1));
	memset(self->buf, 0x5a, self->buf_len);
}

FIXTURE_TEARDOWN(ioas)
{
	close(self->fd);
}

TEST_F(ioas, map_fixed_unmap_exact)
{
	uint64_t unmapped = 0;

	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, 2 * PAGE, 256 * PAGE));
	ASSERT_EQ(0, unmap(self->fd, self->ioas, 256 * PAGE, 2 * PAGE, &unmapped));
	EXPECT_EQ(2 * PAGE, unmapped);
	EXPECT_EQ(-ENOENT, unmap(self->fd, self->ioas, 256 * PAGE, 2 * PAGE, NULL));
}

TEST_F(ioas, map_fixed_overlap_eexist)
{
	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, 4 * PAGE, 256 * PAGE));
	EXPECT_EQ(-EEXIST, map_fixed(self->fd, self->ioas, self->buf, PAGE, 256 * PAGE));
	EXPECT_EQ(-EEXIST, map_fixed(self->fd, self->ioas, self->buf, PAGE, 259 * PAGE));
	EXPECT_EQ(-EEXIST, map_fixed(self->fd, self->ioas, self->buf, 2 * PAGE, 255 * PAGE));
	/* Adjacent on both sides is fine. */
	EXPECT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, PAGE, 255 * PAGE));
	EXPECT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, PAGE, 260 * PAGE));
}

TEST_F(ioas, map_auto_iova_keeps_alignment)
{
	uint64_t iova = 0, iova2 = 0, iova3 = 0;

	/* 4 MiB from a 2 MiB aligned address: a 2 MiB aligned IOVA (THP friendly). */
	ASSERT_EQ(0, map(self->fd, self->ioas, RW, self->buf, 4 * MB, &iova));
	EXPECT_NE(0, iova);
	EXPECT_EQ(0, iova % (2 * MB));
	/* 3 pages from an address 1 page into the buffer: 4 KiB alignment is all it has. */
	ASSERT_EQ(0, map(self->fd, self->ioas, RW, (char *)self->buf + PAGE, 3 * PAGE, &iova2));
	EXPECT_EQ(0, iova2 % PAGE);
	EXPECT_TRUE(iova2 + 3 * PAGE <= iova || iova2 >= iova + 4 * MB);
	/* A sub-page offset is kept in the IOVA. */
	ASSERT_EQ(0, map(self->fd, self->ioas, RW, (char *)self->buf + 0x123, 100, &iova3));
	EXPECT_EQ(0x123, iova3 % PAGE);
	/* IOVA 0 is never chosen. */
	EXPECT_LE(PAGE, iova3 & ~(PAGE - 1));
}

TEST_F(ioas, map_errors)
{
	struct iommu_ioas_map cmd = {
		.size = sizeof(cmd),
		.flags = FIXED,
		.ioas_id = self->ioas,
		.user_va = (uintptr_t)self->buf,
		.length = PAGE,
		.iova = 256 * PAGE,
	};
	uint64_t iova = 256 * PAGE;

	cmd.flags = FIXED | (1u << 3);
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_IOAS_MAP, &cmd));
	EXPECT_EQ(EOPNOTSUPP, errno);
	cmd.flags = FIXED;
	cmd.__reserved = 1;
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_IOAS_MAP, &cmd));
	EXPECT_EQ(EOPNOTSUPP, errno);
	cmd.__reserved = 0;
	/* Neither readable nor writeable. */
	EXPECT_EQ(-EINVAL, map(self->fd, self->ioas, IOMMU_IOAS_MAP_FIXED_IOVA, self->buf, PAGE, &iova));
	EXPECT_EQ(-EOVERFLOW, map_fixed(self->fd, self->ioas, self->buf, PAGE, UINT64_MAX));
	EXPECT_EQ(-EOVERFLOW, map_fixed(self->fd, self->ioas, self->buf, UINT64_MAX, 256 * PAGE));
	EXPECT_EQ(-EINVAL, map_fixed(self->fd, self->ioas, self->buf, 0, 256 * PAGE));
	/* The IOVA range wraps. */
	EXPECT_EQ(-EOVERFLOW, map_fixed(self->fd, self->ioas, self->buf, 2 * PAGE, UINT64_MAX - PAGE + 1));
	/* The user range wraps. */
	EXPECT_EQ(-EOVERFLOW, map_fixed(self->fd, self->ioas, (void *)(UINTPTR_MAX - PAGE), 2 * PAGE, 256 * PAGE));
	EXPECT_EQ(-ENOENT, map_fixed(self->fd, self->ioas + 1, self->buf, PAGE, 256 * PAGE));
	/* Nothing was mapped by any of these. */
	EXPECT_EQ(-ENOENT, unmap(self->fd, self->ioas, 0, 1ULL << 62, NULL));
}

TEST_F(ioas, map_is_lazy)
{
	uint64_t iova = 0, unmapped = 0;
	long before = vm_pinned_kb();

	/* Without a domain nothing is pinned: even memory that is not there maps. */
	ASSERT_LE(0, before);
	ASSERT_EQ(0, map(self->fd, self->ioas, RW, self->buf, self->buf_len, &iova));
	EXPECT_EQ(before, vm_pinned_kb());
	ASSERT_EQ(0, map(self->fd, self->ioas, RW, (void *)(1UL << 45), 1UL << 30, &iova));
	EXPECT_EQ(before, vm_pinned_kb());
	ASSERT_EQ(0, unmap(self->fd, self->ioas, 0, UINT64_MAX, &unmapped));
	EXPECT_EQ(self->buf_len + (1UL << 30), unmapped);
}

TEST_F(ioas, unmap_cannot_split)
{
	uint64_t unmapped = 0;

	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, 2 * PAGE, 16 * PAGE));
	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, 2 * PAGE, 18 * PAGE));
	/* Inside the first, or across the boundary: would split. */
	EXPECT_EQ(-ENOENT, unmap(self->fd, self->ioas, 16 * PAGE, PAGE, NULL));
	EXPECT_EQ(-ENOENT, unmap(self->fd, self->ioas, 17 * PAGE, 2 * PAGE, NULL));
	/* A hole. */
	EXPECT_EQ(-ENOENT, unmap(self->fd, self->ioas, 32 * PAGE, PAGE, NULL));
	/* A superset of both. */
	ASSERT_EQ(0, unmap(self->fd, self->ioas, 8 * PAGE, 32 * PAGE, &unmapped));
	EXPECT_EQ(4 * PAGE, unmapped);
}

TEST_F(ioas, unmap_stops_at_split_after_unmapping_before)
{
	uint64_t unmapped = 0;

	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, 2 * PAGE, 16 * PAGE));
	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, 2 * PAGE, 18 * PAGE));
	/* Covers the first fully and the second partly: as in C, the first goes. */
	EXPECT_EQ(-ENOENT, unmap(self->fd, self->ioas, 16 * PAGE, 3 * PAGE, NULL));
	EXPECT_EQ(-ENOENT, unmap(self->fd, self->ioas, 16 * PAGE, 2 * PAGE, NULL));
	ASSERT_EQ(0, unmap(self->fd, self->ioas, 18 * PAGE, 2 * PAGE, &unmapped));
	EXPECT_EQ(2 * PAGE, unmapped);
}

TEST_F(ioas, unmap_all_and_errors)
{
	uint64_t unmapped = 99;

	/* Everything, on an empty IOAS: success with 0. */
	ASSERT_EQ(0, unmap(self->fd, self->ioas, 0, UINT64_MAX, &unmapped));
	EXPECT_EQ(0, unmapped);
	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, PAGE, 16 * PAGE));
	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, 3 * PAGE, 1ULL << 40));
	ASSERT_EQ(0, unmap(self->fd, self->ioas, 0, UINT64_MAX, &unmapped));
	EXPECT_EQ(4 * PAGE, unmapped);
	EXPECT_EQ(-EINVAL, unmap(self->fd, self->ioas, 16 * PAGE, 0, NULL));
	EXPECT_EQ(-EOVERFLOW, unmap(self->fd, self->ioas, UINT64_MAX, PAGE, NULL));
	EXPECT_EQ(-EOVERFLOW, unmap(self->fd, self->ioas, 1, UINT64_MAX, NULL));
	EXPECT_EQ(-ENOENT, unmap(self->fd, self->ioas + 1, 0, UINT64_MAX, NULL));
}

TEST_F(ioas, copy_shares_and_checks)
{
	uint32_t dst;
	uint64_t iova = 512 * PAGE, unmapped = 0;

	ASSERT_EQ(0, ioas_alloc(self->fd, &dst));
	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, 4 * PAGE, 256 * PAGE));
	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, (char *)self->buf + 4 * PAGE, 4 * PAGE, 260 * PAGE));
	/* Across two adjacent mappings, and a sub-range. */
	ASSERT_EQ(0, copy(self->fd, dst, self->ioas, FIXED, 258 * PAGE, 4 * PAGE, &iova));
	EXPECT_EQ(512 * PAGE, iova);
	iova = 0;
	ASSERT_EQ(0, copy(self->fd, dst, self->ioas, RW, 257 * PAGE, PAGE, &iova));
	EXPECT_NE(0, iova);
	/* Each source slice became its own mapping: 2 pages of each source mapping. */
	EXPECT_EQ(-ENOENT, unmap(self->fd, dst, 512 * PAGE, PAGE, NULL));
	EXPECT_EQ(-ENOENT, unmap(self->fd, dst, 513 * PAGE, 2 * PAGE, NULL));
	ASSERT_EQ(0, unmap(self->fd, dst, 512 * PAGE, 2 * PAGE, &unmapped));
	EXPECT_EQ(2 * PAGE, unmapped);
	ASSERT_EQ(0, unmap(self->fd, dst, 512 * PAGE, 4 * PAGE, &unmapped));
	EXPECT_EQ(2 * PAGE, unmapped);
	/* The source is unchanged, and copying into itself works. */
	iova = 768 * PAGE;
	ASSERT_EQ(0, copy(self->fd, self->ioas, self->ioas, FIXED, 256 * PAGE, 8 * PAGE, &iova));
	/* A hole in the source. */
	iova = 1024 * PAGE;
	EXPECT_EQ(-ENOENT, copy(self->fd, dst, self->ioas, FIXED, 256 * PAGE, 9 * PAGE, &iova));
	EXPECT_EQ(-ENOENT, copy(self->fd, dst, self->ioas, FIXED, 80 * PAGE, PAGE, &iova));
	EXPECT_EQ(-EINVAL, copy(self->fd, dst, self->ioas, FIXED, 256 * PAGE, 0, &iova));
	EXPECT_EQ(-EINVAL, copy(self->fd, dst, self->ioas, IOMMU_IOAS_MAP_FIXED_IOVA, 256 * PAGE, PAGE, &iova));
	EXPECT_EQ(-EOPNOTSUPP, copy(self->fd, dst, self->ioas, FIXED | 8, 256 * PAGE, PAGE, &iova));
	EXPECT_EQ(-ENOENT, copy(self->fd, dst + 5, self->ioas, FIXED, 256 * PAGE, PAGE, &iova));
	EXPECT_EQ(-ENOENT, copy(self->fd, dst, self->ioas + 5, FIXED, 256 * PAGE, PAGE, &iova));
	/* The destination IOVA is taken. */
	iova = 256 * PAGE;
	EXPECT_EQ(-EEXIST, copy(self->fd, self->ioas, self->ioas, FIXED, 256 * PAGE, PAGE, &iova));
}

TEST_F(ioas, copy_cannot_add_write)
{
	uint32_t dst;
	uint64_t iova = 512 * PAGE;

	ASSERT_EQ(0, ioas_alloc(self->fd, &dst));
	ASSERT_EQ(0, map(self->fd, self->ioas, IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE,
			 self->buf, PAGE, &iova));
	EXPECT_EQ(-EPERM, copy(self->fd, dst, self->ioas, FIXED, 512 * PAGE, PAGE, &iova));
	EXPECT_EQ(0, copy(self->fd, dst, self->ioas,
			  IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE, 512 * PAGE, PAGE, &iova));
}

TEST_F(ioas, allow_iovas_restricts_allocation)
{
	struct iommu_iova_range r[2] = {
		{ .start = 0x40000000, .last = 0x40ffffff },
		{ .start = 0x80000000, .last = 0x8fffffff },
	};
	uint64_t iova = 0;

	ASSERT_EQ(0, allow(self->fd, self->ioas, r, 2));
	ASSERT_EQ(0, map(self->fd, self->ioas, RW, self->buf, 4 * MB, &iova));
	EXPECT_LE(r[0].start, iova);
	EXPECT_GE(r[0].last, iova + 4 * MB - 1);
	/* 16 MiB does not fit in what is left of the first range: it goes to the second. */
	iova = 0;
	ASSERT_EQ(0, map(self->fd, self->ioas, RW, self->buf, 16 * MB, &iova));
	EXPECT_LE(r[1].start, iova);
	EXPECT_GE(r[1].last, iova + 16 * MB - 1);
	/* No room anywhere. */
	iova = 0;
	EXPECT_EQ(-ENOSPC, map(self->fd, self->ioas, RW, (void *)(1UL << 40), 1UL << 30, &iova));
	/* A fixed IOVA is not restricted. */
	EXPECT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, PAGE, 0x1000));
	/* An empty list allows everything again. */
	ASSERT_EQ(0, allow(self->fd, self->ioas, NULL, 0));
	iova = 0;
	EXPECT_EQ(0, map(self->fd, self->ioas, RW, (void *)(1UL << 40), 1UL << 30, &iova));
}

TEST_F(ioas, allow_iovas_errors)
{
	struct iommu_iova_range r[2] = {
		{ .start = 0x1000, .last = 0x1000 },
		{ .start = 0x10000, .last = 0x1ffff },
	};
	struct iommu_ioas_allow_iovas cmd = {
		.size = sizeof(cmd),
		.ioas_id = self->ioas,
		.num_iovas = 1,
		.allowed_iovas = (uintptr_t)r,
		.__reserved = 1,
	};

	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_IOAS_ALLOW_IOVAS, &cmd));
	EXPECT_EQ(EOPNOTSUPP, errno);
	/* start must be below last. */
	EXPECT_EQ(-EINVAL, allow(self->fd, self->ioas, r, 1));
	/* Overlapping ranges. */
	r[0].start = 0x18000;
	r[0].last = 0x28000;
	EXPECT_EQ(-EINVAL, allow(self->fd, self->ioas, r, 2));
	/* Touching is fine. */
	r[0].start = 0x20000;
	EXPECT_EQ(0, allow(self->fd, self->ioas, r, 2));
	EXPECT_EQ(-EFAULT, allow(self->fd, self->ioas, (void *)8, 1));
	EXPECT_EQ(-ENOENT, allow(self->fd, self->ioas + 1, r, 2));
}

TEST_F(ioas, destroy_and_close_with_mappings)
{
	uint32_t other;
	struct iommu_destroy d = { .size = sizeof(d) };

	ASSERT_EQ(0, ioas_alloc(self->fd, &other));
	for (int i = 0; i != 256; i++)
		ASSERT_EQ(0, map_fixed(self->fd, other, self->buf, PAGE, 0x100000 + i * PAGE));
	d.id = other;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_DESTROY, &d));
	for (int i = 0; i != 256; i++)
		ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, PAGE, 0x100000 + i * PAGE));
	/* The fixture closes the file with them mapped; kmemleak checks the rest. */
}

TEST_F(ioas, map_file_memfd)
{
	int mfd = memfd_create("iommufd", 0);
	uint64_t iova = 0x100000, unmapped = 0;
	uint32_t dst;

	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, 16 * PAGE));
	ASSERT_EQ(0, map_file(self->fd, self->ioas, FIXED, mfd, 0, 4 * PAGE, &iova));
	EXPECT_EQ(0x100000, iova);
	/* The kernel keeps the offset's position in the page. */
	iova = 0;
	ASSERT_EQ(0, map_file(self->fd, self->ioas, RW, mfd, 0x123, 100, &iova));
	EXPECT_EQ(0x123, iova % PAGE);
	/* The mapping holds the file: closing the descriptor changes nothing. */
	close(mfd);
	ASSERT_EQ(0, ioas_alloc(self->fd, &dst));
	iova = 0x200000;
	ASSERT_EQ(0, copy(self->fd, dst, self->ioas, FIXED, 0x100000 + PAGE, 2 * PAGE, &iova));
	ASSERT_EQ(0, unmap(self->fd, self->ioas, 0x100000, 4 * PAGE, &unmapped));
	EXPECT_EQ(4 * PAGE, unmapped);
	ASSERT_EQ(0, unmap(self->fd, dst, 0, UINT64_MAX, &unmapped));
	EXPECT_EQ(2 * PAGE, unmapped);
}

TEST_F(ioas, map_file_errors)
{
	int mfd = memfd_create("iommufd", 0);
	uint64_t iova = 0x100000;

	ASSERT_LE(0, mfd);
	EXPECT_EQ(-EBADF, map_file(self->fd, self->ioas, FIXED, -1, 0, PAGE, &iova));
	EXPECT_EQ(-EBADF, map_file(self->fd, self->ioas, FIXED, 9999, 0, PAGE, &iova));
	EXPECT_EQ(-EINVAL, map_file(self->fd, self->ioas, FIXED, mfd, 0, 0, &iova));
	EXPECT_EQ(-EOVERFLOW, map_file(self->fd, self->ioas, FIXED, mfd, UINT64_MAX - 10, PAGE, &iova));
	EXPECT_EQ(-EOVERFLOW, map_file(self->fd, self->ioas, FIXED, mfd, 0, UINT64_MAX, &iova));
	EXPECT_EQ(-EOPNOTSUPP, map_file(self->fd, self->ioas, FIXED | 8, mfd, 0, PAGE, &iova));
	EXPECT_EQ(-EINVAL, map_file(self->fd, self->ioas, IOMMU_IOAS_MAP_FIXED_IOVA, mfd, 0, PAGE, &iova));
	EXPECT_EQ(-ENOENT, map_file(self->fd, self->ioas + 1, FIXED, mfd, 0, PAGE, &iova));
	/* Nothing was mapped. */
	EXPECT_EQ(-ENOENT, unmap(self->fd, self->ioas, 0, 1ULL << 62, NULL));
	close(mfd);
}

/* Inject an allocation failure at each allocation of IOMMU_IOAS_MAP in turn. */
TEST_F(ioas, map_fail_nth)
{
	int failures = 0;
	int fnth = fail_nth_open();

	if (fnth < 0)
		SKIP(return, "fault injection is not available");
	for (int nth = 1; nth < 100; nth++) {
		uint64_t unmapped = 0;
		bool reached;
		int ret;

		ASSERT_TRUE(fail_nth_arm(fnth, nth));
		ret = map_fixed(self->fd, self->ioas, self->buf, 4 * PAGE, 0x100000);
		reached = fail_nth_disarm(fnth);
		if (ret) {
			EXPECT_TRUE(fail_nth_errno(ret));
			failures++;
			/* Nothing stays mapped. */
			EXPECT_EQ(-ENOENT, unmap(self->fd, self->ioas, 0x100000, 4 * PAGE, NULL));
		} else {
			ASSERT_EQ(0, unmap(self->fd, self->ioas, 0x100000, 4 * PAGE, &unmapped));
			EXPECT_EQ(4 * PAGE, unmapped);
		}
		if (!reached)
			break;
	}
	EXPECT_LT(0, failures);
	close(fnth);
}

TEST_HARNESS_MAIN
