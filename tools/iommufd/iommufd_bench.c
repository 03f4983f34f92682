// SPDX-License-Identifier: GPL-2.0-only
/*
 * iommufd_bench: workloads timed against /dev/iommu, for `make bench`.
 *
 * The same binary runs on a kernel with the C iommufd and on one with the Rust
 * iommufd. Each workload prints one line per repetition:
 *
 *     result NAME VALUE UNIT
 *
 * and scripts/bench.sh takes medians across repetitions and boots. Times use
 * CLOCK_MONOTONIC in both kernels. Under TCG only ratios mean anything. A first
 * round of every workload runs unreported, to warm caches and allocators.
 *
 * Usage: iommufd_bench [REPS]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/iommu.h>

#define PAGE 4096UL
#define MB (1UL << 20)
#define GB (1UL << 30)
#define RW (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)
#define FIXED (IOMMU_IOAS_MAP_FIXED_IOVA | RW)

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "iommufd_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int open_iommu(void)
{
	int fd = open("/dev/iommu", O_RDWR);

	if (fd < 0)
		die("open /dev/iommu");
	return fd;
}

static uint32_t ioas_alloc(int fd)
{
	struct iommu_ioas_alloc cmd = { .size = sizeof(cmd) };

	if (ioctl(fd, IOMMU_IOAS_ALLOC, &cmd))
		die("IOMMU_IOAS_ALLOC");
	return cmd.out_ioas_id;
}

static void map_fixed(int fd, uint32_t ioas, void *va, uint64_t len, uint64_t iova)
{
	struct iommu_ioas_map cmd = {
		.size = sizeof(cmd),
		.flags = FIXED,
		.ioas_id = ioas,
		.user_va = (uintptr_t)va,
		.length = len,
		.iova = iova,
	};

	if (ioctl(fd, IOMMU_IOAS_MAP, &cmd))
		die("IOMMU_IOAS_MAP");
}

static void unmap(int fd, uint32_t ioas, uint64_t iova, uint64_t len)
{
	struct iommu_ioas_unmap cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas,
		.iova = iova,
		.length = len,
	};

	if (ioctl(fd, IOMMU_IOAS_UNMAP, &cmd))
		die("IOMMU_IOAS_UNMAP");
}

static void *region(size_t len, int flags)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

/* False during the warm-up round. */
static int reporting;

static void result(const char *name, double value, const char *unit)
{
	if (!reporting)
		return;
	printf("result %s %.3f %s\n", name, value, unit);
	fflush(stdout);
}

/* Map and unmap one 4 KiB page at a fixed IOVA, over and over. */
static void map_unmap_4k(void)
{
	int fd = open_iommu();
	uint32_t ioas = ioas_alloc(fd);
	void *buf = region(PAGE, MAP_POPULATE);
	const int n = 20000;
	double t0 = now_ns();

	for (int i = 0; i != n; i++) {
		map_fixed(fd, ioas, buf, PAGE, 0x100000);
		unmap(fd, ioas, 0x100000, PAGE);
	}
	result("map_unmap_4k", (now_ns() - t0) / n, "ns/op");
	munmap(buf, PAGE);
	close(fd);
}

/* Map and unmap 1 GiB in one call, backed by memory of the given kind. */
static void map_1g(const char *name, int mmap_flags, size_t len)
{
	int fd = open_iommu();
	uint32_t ioas = ioas_alloc(fd);
	void *buf = region(len, mmap_flags);
	const int n = 200;
	double t0;

	if (mmap_flags == 0)
		madvise(buf, len, MADV_HUGEPAGE);
	t0 = now_ns();
	for (int i = 0; i != n; i++) {
		map_fixed(fd, ioas, buf, len, 0x40000000);
		unmap(fd, ioas, 0x40000000, len);
	}
	result(name, (now_ns() - t0) / n, "ns/op");
	munmap(buf, len);
	close(fd);
}

/* IOAS_COPY of a 1 GiB mapping into a second IOAS, and its unmap. */
static void copy_1g(void)
{
	int fd = open_iommu();
	uint32_t src = ioas_alloc(fd), dst = ioas_alloc(fd);
	void *buf = region(GB, MAP_NORESERVE);
	const int n = 500;
	double t0;

	map_fixed(fd, src, buf, GB, 0x40000000);
	t0 = now_ns();
	for (int i = 0; i != n; i++) {
		struct iommu_ioas_copy cmd = {
			.size = sizeof(cmd),
			.flags = FIXED,
			.dst_ioas_id = dst,
			.src_ioas_id = src,
			.length = GB,
			.dst_iova = 0x80000000,
			.src_iova = 0x40000000,
		};

		if (ioctl(fd, IOMMU_IOAS_COPY, &cmd))
			die("IOMMU_IOAS_COPY");
		unmap(fd, dst, 0x80000000, GB);
	}
	result("copy_1g", (now_ns() - t0) / n, "ns/op");
	munmap(buf, GB);
	close(fd);
}

/* Close a file holding 100k single-page mappings. */
static void close_100k(void)
{
	int fd = open_iommu();
	uint32_t ioas = ioas_alloc(fd);
	void *buf = region(PAGE, MAP_POPULATE);
	const int n = 100000;
	double t0;

	for (int i = 0; i != n; i++)
		map_fixed(fd, ioas, buf, PAGE, 0x100000 + (uint64_t)i * 2 * PAGE);
	t0 = now_ns();
	close(fd);
	result("close_100k_mappings", (now_ns() - t0) / 1e6, "ms");
	munmap(buf, PAGE);
}

static long slab_kb(void)
{
	char line[256];
	long kb = -1, v;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		die("/proc/meminfo");
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Slab: %ld kB", &v) == 1)
			kb = v;
	fclose(f);
	return kb;
}

/* Kernel memory (slab) per mapping: 100k single-page mappings. */
static void kmem_per_mapping(void)
{
	int fd = open_iommu();
	uint32_t ioas = ioas_alloc(fd);
	void *buf = region(PAGE, MAP_POPULATE);
	const int n = 100000;
	long before = slab_kb();

	for (int i = 0; i != n; i++)
		map_fixed(fd, ioas, buf, PAGE, 0x100000 + (uint64_t)i * 2 * PAGE);
	result("kmem_per_mapping", (slab_kb() - before) * 1024.0 / n, "bytes");
	close(fd);
	munmap(buf, PAGE);
}

int main(int argc, char **argv)
{
	int reps = argc > 1 ? atoi(argv[1]) : 3;

	for (int r = 0; r <= reps; r++) {
		reporting = r > 0;
		map_unmap_4k();
		map_1g("map_1g_4k", MAP_NORESERVE, GB);
		map_1g("map_1g_thp", 0, GB);
		map_1g("map_128m_hugetlb", MAP_HUGETLB, 128 * MB);
		copy_1g();
		close_100k();
		kmem_per_mapping();
	}
	return 0;
}
