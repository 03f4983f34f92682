// SPDX-License-Identifier: GPL-2.0-only
/*
 * Selftests of the Rust iommufd: pinning and its accounting, driven through the
 * test command's in-kernel accesses (IOMMU_TEST_OP_CREATE_ACCESS and friends).
 *
 * Each test checks what really happened to memory: VmPin and VmLck of
 * /proc/self/status (mm->pinned_vm, mm->locked_vm), the pin count of each page
 * (IOMMU_TEST_OP_MD_CHECK_REFS), the pages the kernel pinned against the pages
 * of the user's memory (ACCESS_PAGES with uptr), and bytes copied through the
 * IOVA (ACCESS_RW).
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
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/iommu.h>

#include "kselftest_harness.h"
#include "iommufd_rs_utils.h"
#include "../../../../drivers/iommu/iommufd/iommufd_test.h"

#define IOVA 0x100000UL
/* The most the mock's IOMMU_TEST_OP_ACCESS_PAGES pins at once (ENOMEM beyond, as C). */
#define ACCESS_MAX (16 * MB)

/* A new accessor on ioas; returns its fd or -errno. */
static int access_create(int fd, uint32_t ioas, uint32_t flags)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_CREATE_ACCESS,
		.id = ioas,
		.create_access = { .flags = flags },
	};
	int ret = test_cmd(fd, &cmd);

	return ret ? ret : (int)cmd.create_access.out_access_fd;
}

static int access_pages(int fd, int afd, uint64_t iova, uint64_t len, void *uptr,
			uint32_t flags, uint32_t *id)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_ACCESS_PAGES,
		.id = afd,
		.access_pages = { .flags = flags, .iova = iova, .length = len,
				  .uptr = (uintptr_t)uptr },
	};
	int ret = test_cmd(fd, &cmd);

	if (id)
		*id = cmd.access_pages.out_access_pages_id;
	return ret;
}

static int access_unpin(int fd, int afd, uint32_t id)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_DESTROY_ACCESS_PAGES,
		.id = afd,
		.destroy_access_pages = { .access_pages_id = id },
	};

	return test_cmd(fd, &cmd);
}

static int access_rw(int fd, int afd, uint64_t iova, void *buf, uint64_t len, uint32_t flags)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_ACCESS_RW,
		.id = afd,
		.access_rw = { .iova = iova, .length = len, .uptr = (uintptr_t)buf,
			       .flags = flags },
	};

	return test_cmd(fd, &cmd);
}

static int access_replace(int fd, int afd, uint32_t ioas)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_ACCESS_REPLACE_IOAS,
		.id = afd,
		.access_replace_ioas = { .ioas_id = ioas },
	};

	return test_cmd(fd, &cmd);
}

FIXTURE(pin)
{
	int fd;
	uint32_t ioas;
	uint8_t *buf;
	long pinned0;
};

FIXTURE_SETUP(pin)
{
	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas));
	self->buf = map_aligned(16 * PAGE, HPAGE);
	ASSERT_NE(NULL, self->buf);
	for (size_t i = 0; i < 16 * PAGE; i++)
		self->buf[i] = i * 7 + 3;
	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, 16 * PAGE, IOVA));
	self->pinned0 = vm_pinned_kb();
	ASSERT_LE(0, self->pinned0);
}

FIXTURE_TEARDOWN(pin)
{
	close(self->fd);
}

/* One pin per page however many users; VmPin follows the pages pinned. */
TEST_F(pin, pins_once_per_page_and_counts_vmpin)
{
	int afd = access_create(self->fd, self->ioas, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
	uint32_t a, b, c;

	ASSERT_LE(0, afd);
	ASSERT_EQ(0, check_refs(self->fd, self->buf, 16 * PAGE, 0));
	ASSERT_EQ(0, access_pages(self->fd, afd, IOVA, 4 * PAGE, self->buf, 0, &a));
	EXPECT_EQ(self->pinned0 + PAGES_KB(4), vm_pinned_kb());
	EXPECT_EQ(0, check_refs(self->fd, self->buf, 4 * PAGE, 1));
	EXPECT_EQ(0, check_refs(self->fd, self->buf + 4 * PAGE, 12 * PAGE, 0));

	/* The same range again, and one that overlaps it: only new pages pin. */
	ASSERT_EQ(0, access_pages(self->fd, afd, IOVA, 4 * PAGE, self->buf, 0, &b));
	ASSERT_EQ(0, access_pages(self->fd, afd, IOVA + 2 * PAGE, 4 * PAGE, self->buf + 2 * PAGE,
				  MOCK_FLAGS_ACCESS_WRITE, &c));
	EXPECT_EQ(self->pinned0 + PAGES_KB(6), vm_pinned_kb());
	EXPECT_EQ(0, check_refs(self->fd, self->buf, 6 * PAGE, 1));

	EXPECT_EQ(0, access_unpin(self->fd, afd, a));
	EXPECT_EQ(self->pinned0 + PAGES_KB(6), vm_pinned_kb());
	EXPECT_EQ(0, access_unpin(self->fd, afd, b));
	/* Pages 0 and 1 had only a and b. */
	EXPECT_EQ(self->pinned0 + PAGES_KB(4), vm_pinned_kb());
	EXPECT_EQ(0, check_refs(self->fd, self->buf, 2 * PAGE, 0));
	EXPECT_EQ(0, check_refs(self->fd, self->buf + 2 * PAGE, 4 * PAGE, 1));
	EXPECT_EQ(0, access_unpin(self->fd, afd, c));
	EXPECT_EQ(self->pinned0, vm_pinned_kb());
	EXPECT_EQ(0, check_refs(self->fd, self->buf, 16 * PAGE, 0));
	EXPECT_EQ(-ENOENT, access_unpin(self->fd, afd, c));
	close(afd);
}

/* The pages pinned are the pages of the user's memory, in order. */
TEST_F(pin, pins_the_right_pages)
{
	int afd = access_create(self->fd, self->ioas, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
	uint32_t id;

	ASSERT_LE(0, afd);
	EXPECT_EQ(0, access_pages(self->fd, afd, IOVA + 3 * PAGE, 9 * PAGE, self->buf + 3 * PAGE,
				  0, &id));
	EXPECT_EQ(0, access_unpin(self->fd, afd, id));
	/* Checked against other memory, the pages differ. */
	EXPECT_EQ(-EBADE, access_pages(self->fd, afd, IOVA, 2 * PAGE, self->buf + 4 * PAGE, 0,
				       &id));
	EXPECT_EQ(self->pinned0, vm_pinned_kb());
	close(afd);
}

TEST_F(pin, access_errors)
{
	int afd = access_create(self->fd, self->ioas, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
	int nopin = access_create(self->fd, self->ioas, 0);
	uint8_t *ro = map_anon(PAGE, 0);
	uint32_t id;

	ASSERT_LE(0, afd);
	ASSERT_LE(0, nopin);
	ASSERT_NE(NULL, ro);
	EXPECT_EQ(-EOPNOTSUPP, access_create(self->fd, self->ioas, 1 << 5));
	EXPECT_EQ(-ENOENT, access_create(self->fd, 9999, 0));
	/* Not mapped, partly mapped, empty, wrapping. */
	EXPECT_EQ(-ENOENT, access_pages(self->fd, afd, 0x800000, PAGE, NULL, 0, &id));
	EXPECT_EQ(-ENOENT, access_pages(self->fd, afd, IOVA + 15 * PAGE, 2 * PAGE, NULL, 0, &id));
	EXPECT_EQ(-EINVAL, access_pages(self->fd, afd, IOVA, 0, NULL, 0, &id));
	EXPECT_EQ(-EOVERFLOW, access_pages(self->fd, afd, UINT64_MAX - PAGE, 2 * PAGE, NULL, 0,
					   &id));
	/* Bad flags, too long, not an accessor, an accessor that does not pin. */
	EXPECT_EQ(-EOPNOTSUPP, access_pages(self->fd, afd, IOVA, PAGE, NULL, 1 << 3, &id));
	EXPECT_EQ(-ENOMEM, access_pages(self->fd, afd, IOVA, ACCESS_MAX + MB, NULL, 0, &id));
	EXPECT_EQ(-EBADFD, access_pages(self->fd, self->fd, IOVA, PAGE, NULL, 0, &id));
	EXPECT_EQ(-EOPNOTSUPP, access_pages(self->fd, nopin, IOVA, PAGE, NULL, 0, &id));
	EXPECT_EQ(-ENOENT, access_unpin(self->fd, afd, 77));
	/* Writing through a read-only mapping. */
	ASSERT_EQ(0, map(self->fd, self->ioas, IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE,
			 ro, PAGE, &(uint64_t){ 0x900000 }));
	EXPECT_EQ(-EPERM, access_pages(self->fd, afd, 0x900000, PAGE, NULL,
				       MOCK_FLAGS_ACCESS_WRITE, &id));
	EXPECT_EQ(-EPERM, access_rw(self->fd, afd, 0x900000, self->buf, 8, MOCK_ACCESS_RW_WRITE));
	EXPECT_EQ(0, access_pages(self->fd, afd, 0x900000, PAGE, ro, 0, &id));
	EXPECT_EQ(0, access_unpin(self->fd, afd, id));
	EXPECT_EQ(self->pinned0, vm_pinned_kb());
	close(nopin);
	close(afd);
}

/* Unmapping a pinned range asks the access to unpin, then succeeds. */
TEST_F(pin, unmap_makes_accesses_unpin)
{
	int afd = access_create(self->fd, self->ioas, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
	uint64_t unmapped = 0;
	uint32_t id;

	ASSERT_LE(0, afd);
	ASSERT_EQ(0, access_pages(self->fd, afd, IOVA + PAGE, 2 * PAGE, NULL, 0, &id));
	EXPECT_EQ(self->pinned0 + PAGES_KB(2), vm_pinned_kb());
	EXPECT_EQ(0, unmap(self->fd, self->ioas, IOVA, 16 * PAGE, &unmapped));
	EXPECT_EQ(16 * PAGE, unmapped);
	EXPECT_EQ(self->pinned0, vm_pinned_kb());
	EXPECT_EQ(0, check_refs(self->fd, self->buf, 16 * PAGE, 0));
	EXPECT_EQ(-ENOENT, access_unpin(self->fd, afd, id));
	close(afd);
}

/* An attached access keeps its IOAS; closing the accessor releases it. */
TEST_F(pin, access_holds_ioas_and_ctx)
{
	int afd = access_create(self->fd, self->ioas, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
	uint32_t id;

	ASSERT_LE(0, afd);
	EXPECT_EQ(-EBUSY, destroy(self->fd, self->ioas));
	ASSERT_EQ(0, access_pages(self->fd, afd, IOVA, 8 * PAGE, NULL, 0, &id));
	/* Closing /dev/iommu first: the accessor keeps the context, and the pins. */
	close(self->fd);
	EXPECT_EQ(self->pinned0 + PAGES_KB(8), vm_pinned_kb());
	close(afd);
	/* The context goes with the last reference (a deferred fput). */
	for (int i = 0; i < 100 && vm_pinned_kb() != self->pinned0; i++)
		usleep(10000);
	EXPECT_EQ(self->pinned0, vm_pinned_kb());
	self->fd = open("/dev/iommu", O_RDWR);
}

/* Bytes written through the IOVA land in the user's memory, and back. */
TEST_F(pin, rw_roundtrip)
{
	int afd = access_create(self->fd, self->ioas, 0);
	uint8_t out[3 * PAGE], in[3 * PAGE];

	ASSERT_LE(0, afd);
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = i ^ 0xa5;
	/* Across page boundaries, at an odd offset. */
	ASSERT_EQ(0, access_rw(self->fd, afd, IOVA + 100, out, sizeof(out), MOCK_ACCESS_RW_WRITE));
	EXPECT_EQ(0, memcmp(self->buf + 100, out, sizeof(out)));
	EXPECT_EQ((uint8_t)(99 * 7 + 3), self->buf[99]);
	memset(self->buf + 5000, 0xee, 10);
	ASSERT_EQ(0, access_rw(self->fd, afd, IOVA + 4990, in, 30, MOCK_ACCESS_RW_SLOW_PATH));
	EXPECT_EQ(0, memcmp(in, self->buf + 4990, 30));
	EXPECT_EQ(0xee, in[10]);
	EXPECT_EQ(-ENOENT, access_rw(self->fd, afd, IOVA + 16 * PAGE - 4, in, 8, 0));
	EXPECT_EQ(-EOPNOTSUPP, access_rw(self->fd, afd, IOVA, in, 8, 1 << 1));
	EXPECT_EQ(-EINVAL, access_rw(self->fd, afd, IOVA, in, 0, 0));
	/* Temporary pins do not outlive the copy. */
	EXPECT_EQ(self->pinned0, vm_pinned_kb());
	close(afd);
}

/* IOAS_COPY shares the pages: pinning through both IO address spaces pins once. */
TEST_F(pin, copy_shares_pins)
{
	uint32_t ioas2, a, b;
	uint64_t iova2 = 0x400000;
	int afd1, afd2;

	ASSERT_EQ(0, ioas_alloc(self->fd, &ioas2));
	ASSERT_EQ(0, copy(self->fd, ioas2, self->ioas, IOMMU_IOAS_MAP_FIXED_IOVA | RW, IOVA,
			  16 * PAGE, &iova2));
	afd1 = access_create(self->fd, self->ioas, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
	afd2 = access_create(self->fd, ioas2, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
	ASSERT_LE(0, afd1);
	ASSERT_LE(0, afd2);
	ASSERT_EQ(0, access_pages(self->fd, afd1, IOVA, 8 * PAGE, self->buf, 0, &a));
	ASSERT_EQ(0, access_pages(self->fd, afd2, iova2, 8 * PAGE, self->buf, 0, &b));
	EXPECT_EQ(self->pinned0 + PAGES_KB(8), vm_pinned_kb());
	EXPECT_EQ(0, check_refs(self->fd, self->buf, 8 * PAGE, 1));
	/* Unmapping the source leaves the copy's pins. */
	EXPECT_EQ(0, unmap(self->fd, self->ioas, IOVA, 16 * PAGE, NULL));
	EXPECT_EQ(self->pinned0 + PAGES_KB(8), vm_pinned_kb());
	EXPECT_EQ(0, access_unpin(self->fd, afd2, b));
	EXPECT_EQ(self->pinned0, vm_pinned_kb());
	close(afd1);
	close(afd2);
}

/* Replacing the IOAS unpins everything from the old one; copies follow the new. */
TEST_F(pin, replace_ioas)
{
	int afd = access_create(self->fd, self->ioas, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
	uint8_t *other = map_anon(PAGE, 0);
	uint32_t ioas2, id;
	uint8_t b = 0;

	ASSERT_LE(0, afd);
	ASSERT_NE(NULL, other);
	other[0] = 0x42;
	ASSERT_EQ(0, ioas_alloc(self->fd, &ioas2));
	ASSERT_EQ(0, map_fixed(self->fd, ioas2, other, PAGE, IOVA));
	ASSERT_EQ(0, access_pages(self->fd, afd, IOVA, 4 * PAGE, NULL, 0, &id));
	EXPECT_EQ(self->pinned0 + PAGES_KB(4), vm_pinned_kb());
	ASSERT_EQ(0, access_replace(self->fd, afd, ioas2));
	EXPECT_EQ(self->pinned0, vm_pinned_kb());
	EXPECT_EQ(0, access_rw(self->fd, afd, IOVA, &b, 1, 0));
	EXPECT_EQ(0x42, b);
	/* The old IOAS is free to go; the new one is held. */
	EXPECT_EQ(0, destroy(self->fd, self->ioas));
	EXPECT_EQ(-EBUSY, destroy(self->fd, ioas2));
	EXPECT_EQ(-ENOENT, access_replace(self->fd, afd, 9999));
	close(afd);
	EXPECT_EQ(0, destroy(self->fd, ioas2));
}

/*
 * THP and hugetlb memory pin page for page: a PMD-sized huge page of THP and one
 * of hugetlbfs (2 MiB with 4 KiB pages, 512 MiB with 64 KiB), pinned whole or, where
 * that is more than the mock access pins at once, its first ACCESS_MAX bytes.
 */
TEST_F(pin, huge_pages)
{
	int afd = access_create(self->fd, self->ioas, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
	unsigned long hpage = HPAGE, len = hpage < ACCESS_MAX ? hpage : ACCESS_MAX;
	uint64_t thp_iova = 8 * hpage, tlb_iova = 16 * hpage;
	uint8_t *thp = map_aligned(hpage, hpage);
	uint8_t *tlb = map_anon(hpage, MAP_HUGETLB);
	uint32_t a, b;

	ASSERT_LE(0, afd);
	ASSERT_NE(NULL, thp);
	madvise(thp, hpage, MADV_HUGEPAGE);
	memset(thp, 1, hpage);
	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, thp, hpage, thp_iova));
	ASSERT_EQ(0, access_pages(self->fd, afd, thp_iova, len, thp, 0, &a));
	EXPECT_EQ(self->pinned0 + (long)(len / 1024), vm_pinned_kb());
	if (tlb) {
		memset(tlb, 2, hpage);
		ASSERT_EQ(0, map_fixed(self->fd, self->ioas, tlb, hpage, tlb_iova));
		ASSERT_EQ(0, access_pages(self->fd, afd, tlb_iova, len, tlb,
					  MOCK_FLAGS_ACCESS_WRITE, &b));
		EXPECT_EQ(self->pinned0 + (long)(2 * len / 1024), vm_pinned_kb());
		EXPECT_EQ(0, access_unpin(self->fd, afd, b));
	} else {
		TH_LOG("no hugetlb pages: hugetlb part skipped");
	}
	EXPECT_EQ(0, access_unpin(self->fd, afd, a));
	EXPECT_EQ(self->pinned0, vm_pinned_kb());
	close(afd);
	if (tlb)
		munmap(tlb, hpage);
}

/* MAP_FILE memory pins by file offset; hugetlbfs memfds too. */
TEST_F(pin, memfd)
{
	unsigned long hpage = HPAGE, len = hpage < ACCESS_MAX ? hpage : ACCESS_MAX;
	int afd = access_create(self->fd, self->ioas, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
	int mfd = memfd_create("pin", 0);
	struct iommu_ioas_map_file mf = {
		.size = sizeof(mf),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | RW,
		.ioas_id = self->ioas,
		.fd = mfd,
		.start = PAGE,
		.length = 4 * PAGE,
		.iova = 0x800000,
	};
	uint8_t b[4];
	uint32_t id;

	ASSERT_LE(0, afd);
	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, 8 * PAGE));
	ASSERT_EQ(4, pwrite(mfd, "abcd", 4, PAGE + 10));
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_MAP_FILE, &mf));
	ASSERT_EQ(0, access_pages(self->fd, afd, 0x800000, 4 * PAGE, NULL, 0, &id));
	EXPECT_EQ(self->pinned0 + PAGES_KB(4), vm_pinned_kb());
	ASSERT_EQ(0, access_rw(self->fd, afd, 0x800000 + 10, b, 4, 0));
	EXPECT_EQ(0, memcmp(b, "abcd", 4));
	ASSERT_EQ(0, access_rw(self->fd, afd, 0x800000 + 2 * PAGE, "wxyz", 4,
			       MOCK_ACCESS_RW_WRITE));
	ASSERT_EQ(4, pread(mfd, b, 4, 3 * PAGE));
	EXPECT_EQ(0, memcmp(b, "wxyz", 4));
	EXPECT_EQ(0, access_unpin(self->fd, afd, id));
	EXPECT_EQ(self->pinned0, vm_pinned_kb());

	/* Past the end of the file: pinning finds out. */
	mf.start = 6 * PAGE;
	mf.iova = 0xa00000;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_MAP_FILE, &mf));
	EXPECT_EQ(-EINVAL, access_pages(self->fd, afd, 0xa00000, 4 * PAGE, NULL, 0, &id));
	EXPECT_EQ(self->pinned0, vm_pinned_kb());
	close(mfd);

	mfd = memfd_create("pin-huge", MFD_HUGETLB);
	if (mfd >= 0 && !ftruncate(mfd, hpage)) {
		mf.fd = mfd;
		mf.start = 0;
		mf.length = hpage;
		mf.iova = 16 * hpage;
		ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_MAP_FILE, &mf));
		ASSERT_EQ(0, access_pages(self->fd, afd, mf.iova, len, NULL, 0, &id));
		EXPECT_EQ(self->pinned0 + (long)(len / 1024), vm_pinned_kb());
		EXPECT_EQ(0, access_unpin(self->fd, afd, id));
		EXPECT_EQ(self->pinned0, vm_pinned_kb());
	}
	if (mfd >= 0)
		close(mfd);
	close(afd);
}

static int change_process(int fd, uint32_t reserved)
{
	struct iommu_ioas_change_process cmd = { .size = sizeof(cmd), .__reserved = reserved };

	return ioctl(fd, IOMMU_IOAS_CHANGE_PROCESS, &cmd) ? -errno : 0;
}

/*
 * IOAS_CHANGE_PROCESS on fd, whose IOAS ioas maps 16 pages of anonymous memory
 * at IOVA: a child that inherits the context takes over the charge of what is
 * pinned (VmPin, and VmLck when charged to the mm, move from parent to child).
 * Only MAP_FILE memory can move.
 */
static void change_process_moves(struct __test_metadata *_metadata, int fd, uint32_t ioas,
				 bool mm_mode)
{
	int afd = access_create(fd, ioas, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
	int mfd = memfd_create("move", 0);
	struct iommu_ioas_map_file mf = {
		.size = sizeof(mf),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | RW,
		.fd = mfd,
		.length = 4 * PAGE,
		.iova = 0x800000,
	};
	long pinned0 = vm_pinned_kb(), locked0 = status_kb("VmLck");
	long lock = mm_mode ? PAGES_KB(4) : 0;
	uint32_t ioas2, id;
	int status;
	pid_t child;

	ASSERT_LE(0, afd);
	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, 4 * PAGE));
	EXPECT_EQ(-EOPNOTSUPP, change_process(fd, 1));
	/* The anonymous mapping cannot move. */
	EXPECT_EQ(-EINVAL, change_process(fd, 0));
	ASSERT_EQ(0, unmap(fd, ioas, IOVA, 16 * PAGE, NULL));
	ASSERT_EQ(0, ioas_alloc(fd, &ioas2));
	mf.ioas_id = ioas;
	ASSERT_EQ(0, ioctl(fd, IOMMU_IOAS_MAP_FILE, &mf));
	/* A copy shares the pages: they move once. */
	ASSERT_EQ(0, copy(fd, ioas2, ioas, IOMMU_IOAS_MAP_FIXED_IOVA | RW, 0x800000, 4 * PAGE,
			  &(uint64_t){ 0x800000 }));
	ASSERT_EQ(0, access_pages(fd, afd, 0x800000, 4 * PAGE, NULL, 0, &id));
	EXPECT_EQ(pinned0 + PAGES_KB(4), vm_pinned_kb());
	EXPECT_EQ(locked0 + lock, status_kb("VmLck"));
	/* Nothing to move to the owner itself. */
	EXPECT_EQ(0, change_process(fd, 0));
	EXPECT_EQ(pinned0 + PAGES_KB(4), vm_pinned_kb());

	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		long before = vm_pinned_kb(), lbefore = status_kb("VmLck");

		if (change_process(fd, 0))
			_exit(1);
		if (vm_pinned_kb() != before + PAGES_KB(4) || status_kb("VmLck") != lbefore + lock)
			_exit(2);
		/* The child's pins go with it when the access unpins them. */
		if (access_unpin(fd, afd, id) || vm_pinned_kb() != before ||
		    status_kb("VmLck") != lbefore)
			_exit(3);
		/* Pinning again charges the new owner. */
		if (access_pages(fd, afd, 0x800000, 2 * PAGE, NULL, 0, &id) ||
		    vm_pinned_kb() != before + PAGES_KB(2))
			_exit(4);
		_exit(0);
	}
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* The parent's charge was refunded when it moved. */
	EXPECT_EQ(pinned0, vm_pinned_kb());
	EXPECT_EQ(locked0, status_kb("VmLck"));
	close(afd);
	close(mfd);
}

/*
 * With CAP_IPC_LOCK, as root: pins are not charged against RLIMIT_MEMLOCK, but
 * VmPin counts them, and moves with them. C moves neither the count nor the
 * charge here, yet switches the pages to the new process, whose VmPin then goes
 * below zero when they are unpinned (testing.rst): c-impl.skip lists this case,
 * and limit.change_process_charged below asserts what both do with the limit in force.
 */
TEST_F(pin, change_process)
{
	change_process_moves(_metadata, self->fd, self->ioas, false);
}

/*
 * RLIMIT_MEMLOCK, charged to the user (mode 0) or to the mm (mode 1, shown as
 * VmLck), without CAP_IPC_LOCK. Over the limit the pin fails with ENOMEM and
 * nothing stays pinned or charged.
 */
#include "iommufd_rs_limit.h"

TEST_F(limit, memlock)
{
	struct rlimit rl = { .rlim_cur = 16 * PAGE, .rlim_max = RLIM_INFINITY };
	long pinned0 = vm_pinned_kb(), locked0 = status_kb("VmLck");
	uint32_t ioas, a, b;
	int afd;

	ASSERT_EQ(0, set_rlimit_mode(self->fd, variant->mode));
	/* Whom pins are charged to is decided at map time. */
	ASSERT_EQ(0, drop_cap(CAP_IPC_LOCK));
	ASSERT_EQ(0, setrlimit(RLIMIT_MEMLOCK, &rl));
	ASSERT_EQ(0, ioas_alloc(self->fd, &ioas));
	ASSERT_EQ(0, map_fixed(self->fd, ioas, self->buf, 32 * PAGE, IOVA));
	afd = access_create(self->fd, ioas, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
	ASSERT_LE(0, afd);

	ASSERT_EQ(0, access_pages(self->fd, afd, IOVA, 12 * PAGE, NULL, 0, &a));
	EXPECT_EQ(pinned0 + PAGES_KB(12), vm_pinned_kb());
	EXPECT_EQ(locked0 + (variant->mode ? PAGES_KB(12) : 0), status_kb("VmLck"));
	/* 12 + 8 > 16: refused, and the 8 pages are not left pinned. */
	EXPECT_EQ(-ENOMEM, access_pages(self->fd, afd, IOVA + 16 * PAGE, 8 * PAGE, NULL, 0, &b));
	EXPECT_EQ(pinned0 + PAGES_KB(12), vm_pinned_kb());
	EXPECT_EQ(0, check_refs(self->fd, self->buf + 16 * PAGE, 8 * PAGE, 0));
	/* Pages already pinned cost nothing more. */
	ASSERT_EQ(0, access_pages(self->fd, afd, IOVA + 4 * PAGE, 12 * PAGE, NULL, 0, &b));
	EXPECT_EQ(pinned0 + PAGES_KB(16), vm_pinned_kb());
	EXPECT_EQ(0, access_unpin(self->fd, afd, a));
	EXPECT_EQ(0, access_unpin(self->fd, afd, b));
	EXPECT_EQ(pinned0, vm_pinned_kb());
	EXPECT_EQ(locked0, status_kb("VmLck"));
	/* With the charge refunded, the whole limit is there again. */
	ASSERT_EQ(0, access_pages(self->fd, afd, IOVA + 16 * PAGE, 16 * PAGE, NULL, 0, &a));
	EXPECT_EQ(0, access_unpin(self->fd, afd, a));
	close(afd);
}

/*
 * An allocation failure at each point of the pin path leaves nothing pinned.
 * Each round pins through a new accessor into a new mapping, so that every
 * allocation of the path happens (nothing reuses the capacity of a round
 * before). Arrays from kvmalloc survive a single injected failure (it falls
 * back from krealloc to kvmalloc); the others fail the pin with ENOMEM.
 */
TEST_F(pin, pin_fail_nth)
{
	int fnth = fail_nth_open();
	int failures = 0;

	if (fnth < 0)
		SKIP(return, "fault injection is not available");
	ASSERT_EQ(0, unmap(self->fd, self->ioas, IOVA, 16 * PAGE, NULL));
	for (int nth = 1; nth < 200; nth++) {
		uint32_t id;
		bool reached;
		int afd;
		int ret;

		ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, 16 * PAGE, IOVA));
		afd = access_create(self->fd, self->ioas, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
		ASSERT_LE(0, afd);
		ASSERT_TRUE(fail_nth_arm(fnth, nth));
		ret = access_pages(self->fd, afd, IOVA + PAGE, 10 * PAGE, NULL, 0, &id);
		reached = fail_nth_disarm(fnth);
		if (ret) {
			EXPECT_TRUE(fail_nth_errno(ret));
			failures++;
			EXPECT_EQ(self->pinned0, vm_pinned_kb());
			EXPECT_EQ(0, check_refs(self->fd, self->buf, 16 * PAGE, 0));
		} else {
			EXPECT_EQ(self->pinned0 + PAGES_KB(10), vm_pinned_kb());
		}
		close(afd);
		EXPECT_EQ(self->pinned0, vm_pinned_kb());
		ASSERT_EQ(0, unmap(self->fd, self->ioas, IOVA, 16 * PAGE, NULL));
		if (!reached)
			break;
	}
	EXPECT_LT(0, failures);
	close(fnth);
}

/*
 * IOAS_CHANGE_PROCESS without CAP_IPC_LOCK, charged to the user or to the mm:
 * the charge and VmPin move to the child and come back to nothing, as in C.
 */
TEST_F(limit, change_process_charged)
{
	uint32_t ioas;

	ASSERT_EQ(0, set_rlimit_mode(self->fd, variant->mode));
	ASSERT_EQ(0, drop_cap(CAP_IPC_LOCK));
	ASSERT_EQ(0, ioas_alloc(self->fd, &ioas));
	ASSERT_EQ(0, map_fixed(self->fd, ioas, self->buf, 16 * PAGE, IOVA));
	change_process_moves(_metadata, self->fd, ioas, variant->mode == 1);
}

TEST_HARNESS_MAIN
