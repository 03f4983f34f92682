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
#include <linux/iommu.h>

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

#endif
