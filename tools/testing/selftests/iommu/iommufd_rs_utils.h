/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers shared by the Rust iommufd's selftests: the common ioctls, and
 * allocation-failure injection with fail-nth.
 */
#ifndef __IOMMUFD_RS_UTILS_H
#define __IOMMUFD_RS_UTILS_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <linux/iommu.h>
#include "../../../../drivers/iommu/iommufd/iommufd_test.h"

/* IOMMU_IOAS_ALLOC; returns 0 or -errno. *id is 0 on failure. */
static inline int ioas_alloc(int fd, uint32_t *id)
{
	struct iommu_ioas_alloc cmd = { .size = sizeof(cmd) };
	int ret = ioctl(fd, IOMMU_IOAS_ALLOC, &cmd);

	if (id)
		*id = ret ? 0 : cmd.out_ioas_id;
	return ret ? -errno : 0;
}

/* IOMMU_DESTROY; returns 0 or -errno. */
static inline int destroy(int fd, uint32_t id)
{
	struct iommu_destroy cmd = { .size = sizeof(cmd), .id = id };

	return ioctl(fd, IOMMU_DESTROY, &cmd) ? -errno : 0;
}

/*
 * The CPU's page size, which the tests count in: 4 KiB, or 16 or 64 KiB on arm64
 * kernels built with them (make check ARCH=arm64 PAGES=64k).
 */
#define PAGE ((unsigned long)sysconf(_SC_PAGESIZE))
#define MB (1UL << 20)
/* Kilobytes in n pages, as /proc/self/status counts VmPin and VmLck. */
#define PAGES_KB(n) ((long)((n) * PAGE / 1024))

/*
 * The size of a PMD-mapped huge page, a THP's and hugetlbfs's default: 2 MiB with
 * 4 KiB pages, 32 MiB with 16 KiB, 512 MiB with 64 KiB.
 */
static inline unsigned long hpage_size(void)
{
	unsigned long size = 2 * MB;
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "r");

	if (f) {
		if (fscanf(f, "%lu", &size) != 1)
			size = 2 * MB;
		fclose(f);
	}
	return size;
}
#define HPAGE hpage_size()

static inline int map(int fd, uint32_t ioas, uint32_t flags, void *va, uint64_t len, uint64_t *iova)
{
	struct iommu_ioas_map cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.ioas_id = ioas,
		.user_va = (uintptr_t)va,
		.length = len,
		.iova = *iova,
	};
	int ret = ioctl(fd, IOMMU_IOAS_MAP, &cmd);

	*iova = cmd.iova;
	return ret ? -errno : 0;
}

#define RW (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)
#define FIXED (IOMMU_IOAS_MAP_FIXED_IOVA | RW)

static inline int map_fixed(int fd, uint32_t ioas, void *va, uint64_t len, uint64_t iova)
{
	return map(fd, ioas, FIXED, va, len, &iova);
}

static inline int map_file(int fd, uint32_t ioas, uint32_t flags, int mfd, uint64_t start,
			   uint64_t len, uint64_t *iova)
{
	struct iommu_ioas_map_file cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.ioas_id = ioas,
		.fd = mfd,
		.start = start,
		.length = len,
		.iova = *iova,
	};
	int ret = ioctl(fd, IOMMU_IOAS_MAP_FILE, &cmd);

	*iova = cmd.iova;
	return ret ? -errno : 0;
}

static inline int map_file_fixed(int fd, uint32_t ioas, int mfd, uint64_t start, uint64_t len,
				 uint64_t iova)
{
	return map_file(fd, ioas, FIXED, mfd, start, len, &iova);
}

static inline int unmap(int fd, uint32_t ioas, uint64_t iova, uint64_t len, uint64_t *unmapped)
{
	struct iommu_ioas_unmap cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas,
		.iova = iova,
		.length = len,
	};
	int ret = ioctl(fd, IOMMU_IOAS_UNMAP, &cmd);

	if (unmapped)
		*unmapped = cmd.length;
	return ret ? -errno : 0;
}

static inline int copy(int fd, uint32_t dst, uint32_t src, uint32_t flags, uint64_t src_iova,
		uint64_t len, uint64_t *dst_iova)
{
	struct iommu_ioas_copy cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.dst_ioas_id = dst,
		.src_ioas_id = src,
		.length = len,
		.dst_iova = *dst_iova,
		.src_iova = src_iova,
	};
	int ret = ioctl(fd, IOMMU_IOAS_COPY, &cmd);

	*dst_iova = cmd.dst_iova;
	return ret ? -errno : 0;
}

/* A "Name: N kB" line of /proc/self/status, in kB, or -1. */
static inline long status_kb(const char *name)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, strlen(name)) && line[strlen(name)] == ':' &&
		    sscanf(line + strlen(name) + 1, " %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Pages pinned by this process (mm->pinned_vm), in kB. */
static inline long vm_pinned_kb(void)
{
	return status_kb("VmPin");
}

/* Drops capability cap from the effective set of this thread; 0 or -1. */
static inline int drop_cap(int cap)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -1;
	data[cap / 32].effective &= ~(1u << (cap % 32));
	return syscall(SYS_capset, &hdr, data);
}

static inline int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

/*
 * Opens this thread's fail-nth file, with failslab set to fail sleeping
 * allocations too. Returns the fd, or -1 if fault injection is not available.
 * The file is opened once, before arming: an open() while armed would take the
 * injected failure itself.
 */
static inline int fail_nth_open(void)
{
	char path[64];

	if (write_file("/sys/kernel/debug/failslab/ignore-gfp-wait", "N"))
		return -1;
	write_file("/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait", "N");
	snprintf(path, sizeof(path), "/proc/self/task/%ld/fail-nth", (long)syscall(SYS_gettid));
	return open(path, O_RDWR);
}

/* Makes the nth allocation site from now on fail. */
static inline bool fail_nth_arm(int fnth, int nth)
{
	char buf[16];
	int n = snprintf(buf, sizeof(buf), "%d", nth);

	return pwrite(fnth, buf, n, 0) == n;
}

/*
 * Disarms; returns true if the nth allocation was reached (and failed), false
 * if the code under test made fewer allocations.
 */
static inline bool fail_nth_disarm(int fnth)
{
	char buf[16] = {};

	if (pread(fnth, buf, sizeof(buf) - 1, 0) <= 0)
		buf[0] = '1';
	if (pwrite(fnth, "0", 1, 0) != 1)
		return false;
	return atoi(buf) == 0;
}

/*
 * Whether ret is what an injected failure makes a call return: ENOMEM (an allocation,
 * or fail_iommufd in a pinning batch's temporary memory or in the accounting), ENOENT
 * (fail_iommufd in an object lookup), EFAULT (before a pin) or EINVAL (storing an
 * access's pins, copying through unpinned pages): C's iommufd_should_fail() points.
 */
static inline bool fail_nth_errno(int ret)
{
	return ret == -ENOMEM || ret == -ENOENT || ret == -EFAULT || ret == -EINVAL;
}

/* The test command (IOMMU_TEST_CMD); returns 0 or -errno. */
static inline int test_cmd(int fd, struct iommu_test_cmd *cmd)
{
	cmd->size = sizeof(*cmd);
	return ioctl(fd, IOMMU_TEST_CMD, cmd) ? -errno : 0;
}

/* Attaches a new mock device to pt; returns 0 or -errno. */
static inline int mock_domain(int fd, uint32_t pt, uint32_t *stdev, uint32_t *hwpt)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_MOCK_DOMAIN,
		.id = pt,
	};
	int ret = test_cmd(fd, &cmd);

	if (stdev)
		*stdev = cmd.mock_domain.out_stdev_id;
	if (hwpt)
		*hwpt = cmd.mock_domain.out_hwpt_id;
	return ret;
}

/* 0 if every page of [buf, buf + len) is pinned refs times. */
static inline int check_refs(int fd, void *buf, uint64_t len, uint32_t refs)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_MD_CHECK_REFS,
		.check_refs = { .uptr = (uintptr_t)buf, .length = len, .refs = refs },
	};

	return test_cmd(fd, &cmd);
}

static inline int set_rlimit_mode(int fd, uint64_t mode)
{
	struct iommu_option cmd = {
		.size = sizeof(cmd),
		.option_id = IOMMU_OPTION_RLIMIT_MODE,
		.op = IOMMU_OPTION_OP_SET,
		.val64 = mode,
	};

	return ioctl(fd, IOMMU_OPTION, &cmd) ? -errno : 0;
}

static inline void *map_anon(size_t len, int extra)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | extra,
		       -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* len bytes, aligned to align (a power of two), or NULL. */
static inline void *map_aligned(size_t len, size_t align)
{
	uint8_t *p = map_anon(len + align, 0);

	if (!p)
		return NULL;
	return (void *)(((uintptr_t)p + align - 1) & ~(align - 1));
}

#endif
