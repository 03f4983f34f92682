// SPDX-License-Identifier: GPL-2.0-only
/*
 * Selftests of the Rust iommufd: /dev/iommu, the object table, IOAS allocation,
 * IOVA ranges, options, and the size-prefixed ioctl ABI. Every test checks an
 * outcome the kernel must produce (ids, errno values, bytes written back, module
 * reference counts), built against the project's include/uapi/linux/iommu.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/iommu.h>

#include "kselftest_harness.h"
#include "iommufd_rs_utils.h"

/* The uAPI numbers are ABI: they must not move. */
_Static_assert(IOMMU_DESTROY == _IO(';', 0x80), "IOMMU_DESTROY");
_Static_assert(IOMMU_IOAS_ALLOC == _IO(';', 0x81), "IOMMU_IOAS_ALLOC");
_Static_assert(IOMMU_IOAS_IOVA_RANGES == _IO(';', 0x84), "IOMMU_IOAS_IOVA_RANGES");
_Static_assert(IOMMU_OPTION == _IO(';', 0x87), "IOMMU_OPTION");
_Static_assert(IOMMU_HW_QUEUE_ALLOC == _IO(';', 0x94), "IOMMU_HW_QUEUE_ALLOC");
_Static_assert(sizeof(struct iommu_ioas_alloc) == 12, "ioas_alloc size");
_Static_assert(sizeof(struct iommu_ioas_iova_ranges) == 32, "iova_ranges size");
_Static_assert(sizeof(struct iommu_option) == 24, "option size");
_Static_assert(sizeof(struct iommu_hw_info) == 40, "hw_info size");

static int option(int fd, uint32_t option_id, uint16_t op, uint32_t object_id,
		  uint64_t *val)
{
	struct iommu_option cmd = {
		.size = sizeof(cmd),
		.option_id = option_id,
		.op = op,
		.object_id = object_id,
		.val64 = *val,
	};
	int ret = ioctl(fd, IOMMU_OPTION, &cmd);

	*val = cmd.val64;
	return ret ? -errno : 0;
}

static long module_refcnt(void)
{
	FILE *f = fopen("/sys/module/iommufd/refcnt", "r");
	long v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

FIXTURE(iommufd)
{
	int fd;
};

FIXTURE_SETUP(iommufd)
{
	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(iommufd)
{
	close(self->fd);
}

TEST(device_node)
{
	struct stat st;

	ASSERT_EQ(0, stat("/dev/iommu", &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0660, st.st_mode & 07777);
	EXPECT_EQ(10, major(st.st_rdev));
}

TEST(open_holds_module)
{
	long before = module_refcnt();
	int fd1, fd2;

	ASSERT_LE(0, before);
	fd1 = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, fd1);
	fd2 = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, fd2);
	EXPECT_EQ(before + 2, module_refcnt());
	/* The module cannot go while a file is open. */
	EXPECT_NE(0, syscall(SYS_delete_module, "iommufd", O_NONBLOCK));
	close(fd1);
	EXPECT_EQ(before + 1, module_refcnt());
	close(fd2);
	EXPECT_EQ(before, module_refcnt());
}

TEST_F(iommufd, ioas_ids_start_at_one_and_reuse_lowest)
{
	uint32_t a, b, c, d;

	ASSERT_EQ(0, ioas_alloc(self->fd, &a));
	ASSERT_EQ(0, ioas_alloc(self->fd, &b));
	ASSERT_EQ(0, ioas_alloc(self->fd, &c));
	EXPECT_EQ(1, a);
	EXPECT_EQ(2, b);
	EXPECT_EQ(3, c);
	ASSERT_EQ(0, destroy(self->fd, b));
	ASSERT_EQ(0, ioas_alloc(self->fd, &d));
	EXPECT_EQ(2, d);
}

TEST_F(iommufd, ids_are_per_file)
{
	int other = open("/dev/iommu", O_RDWR);
	uint32_t id;

	ASSERT_LE(0, other);
	ASSERT_EQ(0, ioas_alloc(self->fd, &id));
	EXPECT_EQ(-ENOENT, destroy(other, id));
	EXPECT_EQ(0, destroy(self->fd, id));
	close(other);
}

TEST_F(iommufd, destroy_errors)
{
	uint32_t id;

	EXPECT_EQ(-ENOENT, destroy(self->fd, 0));
	EXPECT_EQ(-ENOENT, destroy(self->fd, 1));
	EXPECT_EQ(-ENOENT, destroy(self->fd, UINT32_MAX));
	ASSERT_EQ(0, ioas_alloc(self->fd, &id));
	EXPECT_EQ(0, destroy(self->fd, id));
	EXPECT_EQ(-ENOENT, destroy(self->fd, id));
}

TEST_F(iommufd, ioas_alloc_flags)
{
	struct iommu_ioas_alloc cmd = { .size = sizeof(cmd), .flags = 1 };

	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_IOAS_ALLOC, &cmd));
	EXPECT_EQ(EOPNOTSUPP, errno);
	cmd.flags = 1u << 31;
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_IOAS_ALLOC, &cmd));
	EXPECT_EQ(EOPNOTSUPP, errno);
	/* Nothing was created: the first id is still free. */
	cmd.flags = 0;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_ALLOC, &cmd));
	EXPECT_EQ(1, cmd.out_ioas_id);
}

TEST_F(iommufd, size_too_small)
{
	struct iommu_ioas_alloc cmd = { .size = 8 };
	struct iommu_destroy d = { .size = 7 };

	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_IOAS_ALLOC, &cmd));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_DESTROY, &d));
	EXPECT_EQ(EINVAL, errno);
	cmd.size = 0;
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_IOAS_ALLOC, &cmd));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(iommufd, size_larger_zero_tail_accepted)
{
	struct {
		struct iommu_ioas_alloc cmd;
		uint8_t tail[4096];
	} big = { .cmd = { .size = sizeof(big) } };

	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_ALLOC, &big));
	EXPECT_EQ(1, big.cmd.out_ioas_id);
	/* Only the kernel's struct is written back; the tail stays zero. */
	for (size_t i = 0; i != sizeof(big.tail); i++)
		ASSERT_EQ(0, big.tail[i]);
}

TEST_F(iommufd, size_larger_nonzero_tail_e2big)
{
	struct {
		struct iommu_ioas_alloc cmd;
		uint8_t tail[100];
	} big = { .cmd = { .size = sizeof(big) } };

	big.tail[99] = 1;
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_IOAS_ALLOC, &big));
	EXPECT_EQ(E2BIG, errno);
	/* The first byte past the kernel's struct counts too. */
	big.tail[99] = 0;
	big.tail[0] = 0xff;
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_IOAS_ALLOC, &big));
	EXPECT_EQ(E2BIG, errno);
	/* Nothing was created. */
	EXPECT_EQ(-ENOENT, destroy(self->fd, 1));
}

TEST_F(iommufd, unknown_ioctls_enotty)
{
	uint32_t buf[16] = { sizeof(buf) };

	EXPECT_EQ(-1, ioctl(self->fd, _IO(';', 0x7f), buf));
	EXPECT_EQ(ENOTTY, errno);
	/* Past the last command (IOMMU_TEST_CMD, 0xa0, when the test ABI is built). */
	EXPECT_EQ(-1, ioctl(self->fd, _IO(';', 0xa1), buf));
	EXPECT_EQ(ENOTTY, errno);
	/* A number in the command range that no command has. */
	EXPECT_EQ(-1, ioctl(self->fd, _IO(';', 0x95), buf));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->fd, _IO('x', 0x80), buf));
	EXPECT_EQ(ENOTTY, errno);
	/* A known number with another direction or size is not the same ioctl. */
	EXPECT_EQ(-1, ioctl(self->fd, _IOWR(';', 0x81, struct iommu_ioas_alloc), buf));
	EXPECT_EQ(ENOTTY, errno);
}

TEST_F(iommufd, bad_pointer_efault)
{
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_IOAS_ALLOC, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_DESTROY, (void *)16));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F(iommufd, iova_ranges_whole_space)
{
	struct iommu_iova_range ranges[4];
	struct iommu_ioas_iova_ranges cmd = {
		.size = sizeof(cmd),
		.num_iovas = 4,
		.allowed_iovas = (uintptr_t)ranges,
	};

	memset(ranges, 0xaa, sizeof(ranges));
	ASSERT_EQ(0, ioas_alloc(self->fd, &cmd.ioas_id));
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_IOVA_RANGES, &cmd));
	EXPECT_EQ(1, cmd.num_iovas);
	EXPECT_EQ(0, ranges[0].start);
	EXPECT_EQ(UINT64_MAX, ranges[0].last);
	EXPECT_EQ(1, cmd.out_iova_alignment);
	/* Entries past num_iovas are untouched. */
	EXPECT_EQ(0xaaaaaaaaaaaaaaaaULL, ranges[1].start);
}

TEST_F(iommufd, iova_ranges_too_small_emsgsize)
{
	struct iommu_ioas_iova_ranges cmd = {
		.size = sizeof(cmd),
		.num_iovas = 0,
		.out_iova_alignment = 12345,
	};

	ASSERT_EQ(0, ioas_alloc(self->fd, &cmd.ioas_id));
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_IOAS_IOVA_RANGES, &cmd));
	EXPECT_EQ(EMSGSIZE, errno);
	/* The struct is still written back with the count needed. */
	EXPECT_EQ(1, cmd.num_iovas);
	EXPECT_EQ(1, cmd.out_iova_alignment);
}

TEST_F(iommufd, iova_ranges_errors)
{
	struct iommu_ioas_iova_ranges cmd = {
		.size = sizeof(cmd),
		.num_iovas = 1,
		.allowed_iovas = 8,
	};

	ASSERT_EQ(0, ioas_alloc(self->fd, &cmd.ioas_id));
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_IOAS_IOVA_RANGES, &cmd));
	EXPECT_EQ(EFAULT, errno);
	cmd.__reserved = 1;
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_IOAS_IOVA_RANGES, &cmd));
	EXPECT_EQ(EOPNOTSUPP, errno);
	cmd.__reserved = 0;
	cmd.ioas_id = 77;
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_IOAS_IOVA_RANGES, &cmd));
	EXPECT_EQ(ENOENT, errno);
	/* Shorter than the first version (up to out_iova_alignment). */
	cmd.size = offsetof(struct iommu_ioas_iova_ranges, out_iova_alignment);
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_IOAS_IOVA_RANGES, &cmd));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(iommufd, option_rlimit_mode)
{
	uint64_t val = 99;
	uint32_t id;

	ASSERT_EQ(0, option(self->fd, IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_OP_GET, 0, &val));
	EXPECT_EQ(0, val);
	val = 1;
	ASSERT_EQ(0, option(self->fd, IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_OP_SET, 0, &val));
	val = 99;
	ASSERT_EQ(0, option(self->fd, IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_OP_GET, 0, &val));
	EXPECT_EQ(1, val);
	val = 2;
	EXPECT_EQ(-EINVAL, option(self->fd, IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_OP_SET, 0, &val));
	val = 0;
	EXPECT_EQ(-EOPNOTSUPP, option(self->fd, IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_OP_GET, 1, &val));
	EXPECT_EQ(-EOPNOTSUPP, option(self->fd, IOMMU_OPTION_RLIMIT_MODE, 2, 0, &val));
	/* Only while the context is empty; EBUSY comes before the value check. */
	ASSERT_EQ(0, ioas_alloc(self->fd, &id));
	val = 0;
	EXPECT_EQ(-EBUSY, option(self->fd, IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_OP_SET, 0, &val));
	val = 5;
	EXPECT_EQ(-EBUSY, option(self->fd, IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_OP_SET, 0, &val));
	ASSERT_EQ(0, destroy(self->fd, id));
	val = 0;
	EXPECT_EQ(0, option(self->fd, IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_OP_SET, 0, &val));
}

TEST_F(iommufd, option_rlimit_mode_needs_cap)
{
	uint64_t val = 1;

	ASSERT_EQ(0, drop_cap(CAP_SYS_RESOURCE));
	EXPECT_EQ(-EPERM, option(self->fd, IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_OP_SET, 0, &val));
	val = 7;
	EXPECT_EQ(0, option(self->fd, IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_OP_GET, 0, &val));
	EXPECT_EQ(0, val);
}

TEST_F(iommufd, option_huge_pages)
{
	uint64_t val = 99;
	uint32_t id;

	ASSERT_EQ(0, ioas_alloc(self->fd, &id));
	ASSERT_EQ(0, option(self->fd, IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_GET, id, &val));
	EXPECT_EQ(1, val);
	val = 0;
	ASSERT_EQ(0, option(self->fd, IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_SET, id, &val));
	val = 99;
	ASSERT_EQ(0, option(self->fd, IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_GET, id, &val));
	EXPECT_EQ(0, val);
	val = 2;
	EXPECT_EQ(-EINVAL, option(self->fd, IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_SET, id, &val));
	val = 1;
	ASSERT_EQ(0, option(self->fd, IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_SET, id, &val));
	EXPECT_EQ(-ENOENT, option(self->fd, IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_GET, id + 1, &val));
	EXPECT_EQ(-ENOENT, option(self->fd, IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_GET, 0, &val));
	EXPECT_EQ(-EOPNOTSUPP, option(self->fd, IOMMU_OPTION_HUGE_PAGES, 3, id, &val));
}

TEST_F(iommufd, option_bad_fields)
{
	struct iommu_option cmd = {
		.size = sizeof(cmd),
		.option_id = IOMMU_OPTION_RLIMIT_MODE,
		.op = IOMMU_OPTION_OP_GET,
		.__reserved = 1,
	};

	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_OPTION, &cmd));
	EXPECT_EQ(EOPNOTSUPP, errno);
	cmd.__reserved = 0;
	cmd.option_id = 2;
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_OPTION, &cmd));
	EXPECT_EQ(EOPNOTSUPP, errno);
	cmd.option_id = IOMMU_OPTION_RLIMIT_MODE;
	cmd.size = offsetof(struct iommu_option, val64);
	EXPECT_EQ(-1, ioctl(self->fd, IOMMU_OPTION, &cmd));
	EXPECT_EQ(EINVAL, errno);
}

/*
 * Inject an allocation failure at each allocation of IOMMU_IOAS_ALLOC in turn
 * (fail-nth): each must fail cleanly with ENOMEM and leave nothing behind, so
 * that the next allocation gets id 1 again. kmemleak checks the rest.
 */
TEST(ioas_alloc_fail_nth)
{
	int failures = 0;
	int fd, fnth;

	fnth = fail_nth_open();
	if (fnth < 0)
		SKIP(return, "fault injection is not available");
	fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, fd);

	for (int nth = 1; nth < 100; nth++) {
		uint32_t id = 0;
		bool reached;
		int ret;

		ASSERT_TRUE(fail_nth_arm(fnth, nth));
		ret = ioas_alloc(fd, &id);
		reached = fail_nth_disarm(fnth);
		if (!reached) {
			/* The nth allocation was never reached: the call saw no fault. */
			ASSERT_EQ(0, ret);
			ASSERT_EQ(1, id);
			break;
		}
		if (ret == 0) {
			/* A failure the code tolerates (a retry or a fallback) is fine too. */
			ASSERT_EQ(1, id);
			EXPECT_EQ(0, destroy(fd, 1));
		} else {
			EXPECT_EQ(-ENOMEM, ret);
			failures++;
			/* Nothing half-built remains: id 1 is free. */
			EXPECT_EQ(-ENOENT, destroy(fd, 1));
		}
		ASSERT_EQ(0, ioas_alloc(fd, &id));
		EXPECT_EQ(1, id);
		ASSERT_EQ(0, destroy(fd, id));
	}
	/* The path allocates (table slot, object, table entry): some call must have failed. */
	EXPECT_LT(0, failures);
	close(fnth);
	close(fd);
}

static int vfio_ioas(int fd, uint16_t op, uint32_t *id)
{
	struct iommu_vfio_ioas cmd = { .size = sizeof(cmd), .op = op, .ioas_id = *id };
	int ret = ioctl(fd, IOMMU_VFIO_IOAS, &cmd);

	*id = cmd.ioas_id;
	return ret ? -errno : 0;
}

TEST_F(iommufd, vfio_ioas_get_set_clear)
{
	uint32_t a, b, id = 0;

	EXPECT_EQ(-ENODEV, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_GET, &id));
	id = 5;
	EXPECT_EQ(-ENOENT, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &id));
	ASSERT_EQ(0, ioas_alloc(self->fd, &a));
	ASSERT_EQ(0, ioas_alloc(self->fd, &b));
	id = b;
	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &id));
	id = 0;
	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_GET, &id));
	EXPECT_EQ(b, id);
	/* Destroying the compat IOAS forgets it: its id, once reused, is not it. */
	ASSERT_EQ(0, destroy(self->fd, b));
	EXPECT_EQ(-ENODEV, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_GET, &id));
	ASSERT_EQ(0, ioas_alloc(self->fd, &b));
	EXPECT_EQ(-ENODEV, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_GET, &id));
	id = a;
	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &id));
	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_CLEAR, &id));
	EXPECT_EQ(-ENODEV, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_GET, &id));
	EXPECT_EQ(-EOPNOTSUPP, vfio_ioas(self->fd, 3, &id));
}

TEST(close_destroys_everything)
{
	/* Many objects left behind at close: kmemleak, at the end of the run, sees leaks. */
	for (int round = 0; round != 4; round++) {
		int fd = open("/dev/iommu", O_RDWR);
		uint32_t id = 0;

		ASSERT_LE(0, fd);
		for (int i = 0; i != 1000; i++)
			ASSERT_EQ(0, ioas_alloc(fd, &id));
		EXPECT_EQ(1000, id);
		close(fd);
	}
}

struct race {
	int fd;
	uint32_t ids[200];
	int err;
};

static void *alloc_destroy(void *arg)
{
	struct race *r = arg;

	for (int i = 0; i != 200; i++) {
		if (ioas_alloc(r->fd, &r->ids[i])) {
			r->err = errno;
			return NULL;
		}
		if (i % 2 && destroy(r->fd, r->ids[i])) {
			r->err = errno;
			return NULL;
		}
	}
	return NULL;
}

TEST_F(iommufd, concurrent_alloc_destroy)
{
	struct race r[4];
	pthread_t t[4];

	for (int i = 0; i != 4; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].fd = self->fd;
		ASSERT_EQ(0, pthread_create(&t[i], NULL, alloc_destroy, &r[i]));
	}
	for (int i = 0; i != 4; i++)
		ASSERT_EQ(0, pthread_join(t[i], NULL));
	/* The live ids (even rounds) are distinct and all destroyable once. */
	for (int i = 0; i != 4; i++) {
		ASSERT_EQ(0, r[i].err);
		for (int j = 0; j < 200; j += 2)
			EXPECT_EQ(0, destroy(self->fd, r[i].ids[j]));
	}
	EXPECT_EQ(-ENOENT, destroy(self->fd, 1));
}

TEST_HARNESS_MAIN
