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
 * Most workloads run three ways, by the suffix of their name:
 *   (none)  no device: the IOAS pins nothing, so this is the bookkeeping alone;
 *   _mock   a mock device of IOMMU_TEST_CMD attached: every mapped page is pinned
 *           and written into the mock's IO page table (the generic page table's
 *           AMDv1 format, the same code in both kernels);
 *   _vtd    QEMU's edu device bound to vfio-pci and attached through its VFIO
 *           cdev: pinned, and mapped into a VT-d domain.
 *
 * The concurrency workloads run threads on one IOAS with a mock domain: two threads
 * mapping and unmapping disjoint ranges (concurrent_map_2t), and in-kernel access
 * copies or dirty-bitmap reads timed while another thread maps and unmaps
 * (access_rw_during_map, dirty_read_during_map: median and 99th percentile; and
 * dirty_read_512m, the same read with no map running). VFIO's
 * type1 container (vfio_type1_map_unmap) and a VMM's start (vm_start_2g_vtd) run
 * with edu under VT-d. Each pinning _mock workload has its floor (floor_NAME: the
 * bare kernel work for the same memory, measured where the kernel offers it).
 *
 * Usage: iommufd_bench [REPS [FILTER]]   (FILTER: run the workloads whose name
 * contains it; NAME$: that workload alone)
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
#include <time.h>
#include <unistd.h>
#include <linux/iommu.h>

#include "../testing/selftests/iommu/iommufd_rs_utils.h"
#include "../testing/selftests/iommu/iommufd_rs_edu.h"

#define GB (1UL << 30)
/* Inside the mock domain's aperture (16 MiB to 2 GiB), under VT-d's too. */
#define IOVA (1UL << 24)
#define IOVA_1G (1UL << 30)

/* How a workload's IOAS is backed. */
enum target { NONE, MOCK, VTD };
static const char *const suffix[] = { "", "_mock", "_vtd" };

/* edu's PCI address, once it is bound to vfio-pci; empty without edu. */
static char edu_bdf[64];

static void die(const char *what)
{
	fprintf(stderr, "iommufd_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Dies unless ret (0 or -errno) is 0. */
static void must(int ret, const char *what)
{
	if (ret) {
		errno = -ret;
		die(what);
	}
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* A /dev/iommu with one IOAS, and what is attached to it. */
struct bench_ctx {
	int fd;
	uint32_t ioas;
	int devfd;
};

/* Opens /dev/iommu, allocates an IOAS and attaches a device of kind t to it. */
static void ctx_open(struct bench_ctx *c, enum target t)
{
	uint32_t dev_id, pt;

	c->devfd = -1;
	switch (t) {
	case VTD:
		c->devfd = bind_cdev(edu_bdf, &c->fd, &dev_id);
		if (c->devfd < 0)
			must(c->devfd, "bind edu to /dev/iommu");
		break;
	default:
		c->fd = open("/dev/iommu", O_RDWR);
		if (c->fd < 0)
			die("open /dev/iommu");
	}
	must(ioas_alloc(c->fd, &c->ioas), "IOMMU_IOAS_ALLOC");
	pt = c->ioas;
	if (t == MOCK)
		must(mock_domain(c->fd, c->ioas, NULL, NULL), "IOMMU_TEST_OP_MOCK_DOMAIN");
	if (t == VTD)
		must(attach_pt(c->devfd, &pt), "VFIO_DEVICE_ATTACH_IOMMUFD_PT");
}

/* Attaches one more mock device to another IOAS of the same file. */
static void ctx_attach_mock(struct bench_ctx *c, uint32_t ioas)
{
	must(mock_domain(c->fd, ioas, NULL, NULL), "IOMMU_TEST_OP_MOCK_DOMAIN");
}

static void ctx_close(struct bench_ctx *c)
{
	if (c->devfd >= 0)
		close(c->devfd);
	close(c->fd);
}

/* Memory of a workload: 4 KiB pages, THP or hugetlb, populated. */
enum backing { PAGES_4K, THP, HUGETLB };

static void *region(size_t len, enum backing b)
{
	uint8_t *p;

	if (b == THP) {
		/* 2 MiB aligned, so that every 2 MiB of it can be a huge page. */
		p = map_aligned(len, 2 * MB);
		if (!p)
			die("mmap");
		madvise(p, len, MADV_HUGEPAGE);
	} else {
		p = map_anon(len, b == HUGETLB ? MAP_HUGETLB : 0);
		if (!p)
			die("mmap");
		if (b == PAGES_4K)
			madvise(p, len, MADV_NOHUGEPAGE);
	}
	for (size_t off = 0; off < len; off += PAGE)
		p[off] = 1;
	return p;
}

/* False during the warm-up round. */
static int reporting;

static void result(const char *name, const char *sfx, double value, const char *unit)
{
	if (!reporting)
		return;
	printf("result %s%s %.3f %s\n", name, sfx, value, unit);
	fflush(stdout);
}

/* Time per operation: in ms for the runs that pin a large region, else in ns. */
static void per_op(const char *name, enum target t, double ns, int n, size_t len)
{
	if (t == NONE || len == PAGE)
		result(name, suffix[t], ns / n, "ns/op");
	else
		result(name, suffix[t], ns / n / 1e6, "ms/op");
}

static void floor_of(const char *name, void *buf, size_t len);

/*
 * Map and unmap len bytes of memory of kind b in one call each, over and over:
 * one 4 KiB page, or a large region. With a mock domain, the floor of a large region
 * follows, on the same memory.
 */
static void map_unmap(const char *name, enum target t, enum backing b, size_t len)
{
	struct bench_ctx c;
	void *buf = region(len, b);
	/* Without a device nothing is pinned: the cost is per call, not per page. */
	const int n = len == PAGE ? (t == NONE ? 20000 : 5000) : (t == NONE ? 200 : 2);
	double t0;

	ctx_open(&c, t);
	t0 = now_ns();
	for (int i = 0; i != n; i++) {
		must(map_fixed(c.fd, c.ioas, buf, len, IOVA_1G), "IOMMU_IOAS_MAP");
		must(unmap(c.fd, c.ioas, IOVA_1G, len, NULL), "IOMMU_IOAS_UNMAP");
	}
	per_op(name, t, now_ns() - t0, n, len);
	ctx_close(&c);
	if (t == MOCK && len > PAGE)
		floor_of(name, buf, len);
	munmap(buf, len);
}

/*
 * IOAS_COPY of a 1 GiB mapping into a second IOAS, and its unmap. With mock
 * devices on both, the source's pages are pinned once; each copy maps them into
 * the second domain from what the first already holds.
 */
static void copy_1g(enum target t)
{
	struct bench_ctx c;
	uint32_t dst;
	void *buf = t == NONE ? map_anon(GB, MAP_NORESERVE) : region(GB, THP);
	const int n = t == NONE ? 500 : 2;
	double t0;

	if (!buf)
		die("mmap");
	ctx_open(&c, t);
	must(ioas_alloc(c.fd, &dst), "IOMMU_IOAS_ALLOC");
	if (t == MOCK)
		ctx_attach_mock(&c, dst);
	must(map_fixed(c.fd, c.ioas, buf, GB, IOVA_1G), "IOMMU_IOAS_MAP");
	t0 = now_ns();
	for (int i = 0; i != n; i++) {
		uint64_t iova = IOVA_1G;

		must(copy(c.fd, dst, c.ioas, FIXED, IOVA_1G, GB, &iova), "IOMMU_IOAS_COPY");
		must(unmap(c.fd, dst, IOVA_1G, GB, NULL), "IOMMU_IOAS_UNMAP");
	}
	per_op("copy_1g", t, now_ns() - t0, n, GB);
	ctx_close(&c);
	munmap(buf, GB);
}

/* Maps n single pages of buf, each at its own IOVA with a hole after it. */
static void map_singles(struct bench_ctx *c, uint8_t *buf, int n, size_t stride)
{
	for (int i = 0; i != n; i++)
		must(map_fixed(c->fd, c->ioas, buf + (size_t)i * stride, PAGE,
			       IOVA + (uint64_t)i * 2 * PAGE), "IOMMU_IOAS_MAP");
}

#define SINGLES 100000

/* Slab plus vmalloc in use, in kB (/proc/meminfo). */
static long kmem_kb(void)
{
	char line[256];
	long kb = 0, v;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		die("/proc/meminfo");
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Slab: %ld kB", &v) == 1 ||
		    sscanf(line, "VmallocUsed: %ld kB", &v) == 1)
			kb += v;
	fclose(f);
	return kb;
}

/*
 * 100k single-page mappings: the kernel memory (slab and vmalloc) they take, per
 * mapping, then the time to close the file that holds them. With a mock device,
 * each is a different page, pinned and in the domain, so the close also unmaps
 * and unpins them all.
 */
static void singles(enum target t)
{
	struct bench_ctx c;
	size_t stride = t == NONE ? 0 : PAGE;
	size_t len = stride ? SINGLES * PAGE : PAGE;
	uint8_t *buf = region(len, PAGES_4K);
	long before;
	double t0;

	ctx_open(&c, t);
	before = kmem_kb();
	map_singles(&c, buf, SINGLES, stride);
	result("kmem_per_mapping", suffix[t], (kmem_kb() - before) * 1024.0 / SINGLES, "bytes");
	t0 = now_ns();
	ctx_close(&c);
	result("close_100k_mappings", suffix[t], (now_ns() - t0) / 1e6, "ms");
	munmap(buf, len);
}

/*
 * Kernel memory (slab and vmalloc) per pinned page: one mapping of 400 MiB of
 * 4 KiB pages, pinned into a mock domain.
 */
static void kmem_per_pinned_page(void)
{
	struct bench_ctx c;
	size_t len = SINGLES * PAGE;
	void *buf = region(len, PAGES_4K);
	long before;

	ctx_open(&c, MOCK);
	before = kmem_kb();
	must(map_fixed(c.fd, c.ioas, buf, len, IOVA_1G), "IOMMU_IOAS_MAP");
	result("kmem_per_pinned_page", "", (kmem_kb() - before) * 1024.0 / SINGLES, "bytes");
	ctx_close(&c);
	munmap(buf, len);
}

/*
 * The floor of a pinning workload (the test driver's floor file), on the workload's own
 * memory: pinned with pin_user_pages_fast(), each contiguous run mapped with one
 * iommu_map() into a mock domain, all unmapped and unpinned, with none of iommufd's
 * bookkeeping. Only the kernel with the Rust module has the file: on C's, no result.
 */
static void floor_of(const char *name, void *buf, size_t len)
{
	int fd = open("/sys/kernel/debug/iommufd-test/floor", O_WRONLY);
	char cmd[64], full[96];
	const int n = 2;
	double t0;

	if (fd < 0)
		return;
	snprintf(cmd, sizeof(cmd), "0x%lx 0x%lx", (unsigned long)buf, (unsigned long)len);
	t0 = now_ns();
	for (int i = 0; i != n; i++)
		if (write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
			die("write the floor file");
	snprintf(full, sizeof(full), "floor_%s", name);
	result(full, "", (now_ns() - t0) / n / 1e6, "ms/op");
	close(fd);
}

/* --- Concurrency --- */

/* Each thread's range: two fit in the mock aperture (16 MiB to 2 GiB) side by side. */
#define CONC_LEN (1008 * MB)
#define PIECE (2 * MB)

/* A thread mapping and unmapping its region in pieces, rounds times or until *stop. */
struct mapper {
	struct bench_ctx *c;
	uint8_t *buf;
	size_t len;
	uint64_t iova;
	int rounds;
	volatile int *stop;
	pthread_t thread;
};

static void *mapper_run(void *arg)
{
	struct mapper *m = arg;

	for (int r = 0; m->rounds ? r != m->rounds : !*m->stop; r++) {
		for (size_t off = 0; off < m->len; off += PIECE)
			must(map_fixed(m->c->fd, m->c->ioas, m->buf + off, PIECE, m->iova + off),
			     "IOMMU_IOAS_MAP");
		for (size_t off = 0; off < m->len; off += PIECE)
			must(unmap(m->c->fd, m->c->ioas, m->iova + off, PIECE, NULL),
			     "IOMMU_IOAS_UNMAP");
	}
	return NULL;
}

static void mapper_start(struct mapper *m)
{
	errno = pthread_create(&m->thread, NULL, mapper_run, m);
	if (errno)
		die("pthread_create");
}

/*
 * Two threads, each mapping and unmapping 1008 MiB of THP in 2 MiB pieces into its
 * own range of one IOAS with a mock domain: the time until both finish.
 */
static void concurrent_map_2t(void)
{
	struct mapper m[2];
	struct bench_ctx c;
	double t0;

	ctx_open(&c, MOCK);
	for (int i = 0; i != 2; i++)
		m[i] = (struct mapper){ .c = &c, .buf = region(CONC_LEN, THP), .len = CONC_LEN,
					.iova = IOVA + i * CONC_LEN, .rounds = 1 };
	t0 = now_ns();
	for (int i = 0; i != 2; i++)
		mapper_start(&m[i]);
	for (int i = 0; i != 2; i++)
		pthread_join(m[i].thread, NULL);
	result("concurrent_map_2t", "", (now_ns() - t0) / 1e6, "ms");
	for (int i = 0; i != 2; i++)
		munmap(m[i].buf, CONC_LEN);
	ctx_close(&c);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Reports the median and the 99th percentile of n latencies in ns, in us. */
static void latencies(const char *name, double *ns, int n)
{
	char p99[96];

	qsort(ns, n, sizeof(*ns), cmp_double);
	result(name, "", ns[n / 2] / 1e3, "us");
	snprintf(p99, sizeof(p99), "%s_p99", name);
	result(p99, "", ns[n * 99 / 100] / 1e3, "us");
}

#define SAMPLES 400

/*
 * IOMMU_TEST_OP_ACCESS_RW of 4 KiB into a mapped page, in a loop, while another
 * thread maps and unmaps 1008 MiB of THP in 2 MiB pieces in the same IOAS (with a
 * mock domain, so each map pins): the latency of the copies.
 */
static void access_rw_during_map(void)
{
	struct iommu_test_cmd access = { .op = IOMMU_TEST_OP_CREATE_ACCESS };
	struct iommu_test_cmd rw = { .op = IOMMU_TEST_OP_ACCESS_RW };
	uint8_t *page = region(PAGE, PAGES_4K), tmp[4096];
	volatile int stop = 0;
	double ns[SAMPLES];
	struct mapper m;
	struct bench_ctx c;

	ctx_open(&c, MOCK);
	must(map_fixed(c.fd, c.ioas, page, PAGE, IOVA), "IOMMU_IOAS_MAP");
	access.id = c.ioas;
	must(test_cmd(c.fd, &access), "IOMMU_TEST_OP_CREATE_ACCESS");
	rw.id = access.create_access.out_access_fd;
	rw.access_rw.iova = IOVA;
	rw.access_rw.length = sizeof(tmp) < PAGE ? sizeof(tmp) : PAGE;
	rw.access_rw.uptr = (uintptr_t)tmp;
	m = (struct mapper){ .c = &c, .buf = region(CONC_LEN, THP), .len = CONC_LEN,
			     .iova = IOVA_1G, .stop = &stop };
	mapper_start(&m);
	for (int i = 0; i != SAMPLES; i++) {
		double t0 = now_ns();

		must(test_cmd(c.fd, &rw), "IOMMU_TEST_OP_ACCESS_RW");
		ns[i] = now_ns() - t0;
	}
	stop = 1;
	pthread_join(m.thread, NULL);
	latencies("access_rw_during_map", ns, SAMPLES);
	close(access.create_access.out_access_fd);
	ctx_close(&c);
	munmap(m.buf, CONC_LEN);
}

/*
 * IOMMU_HWPT_GET_DIRTY_BITMAP of 512 MiB of a mock HWPT with dirty tracking, in a
 * loop, while another thread maps and unmaps 1008 MiB of THP in 2 MiB pieces
 * elsewhere in the IOAS (or, without with_map, alone: dirty_read_512m, what the
 * read costs when it waits for nothing): the latency of the reads.
 */
static void dirty_read(const char *name, int with_map)
{
	const size_t len = 512 * MB;
	struct iommu_test_cmd md = { .op = IOMMU_TEST_OP_MOCK_DOMAIN };
	struct iommu_hwpt_alloc hwpt = { .size = sizeof(hwpt),
					 .flags = IOMMU_HWPT_ALLOC_DIRTY_TRACKING };
	struct iommu_hwpt_set_dirty_tracking track = {
		.size = sizeof(track), .flags = IOMMU_HWPT_DIRTY_TRACKING_ENABLE };
	struct iommu_hwpt_get_dirty_bitmap get = {
		.size = sizeof(get), .iova = IOVA, .length = len, .page_size = PAGE };
	uint64_t *bitmap = calloc(len / PAGE / 64, sizeof(uint64_t));
	uint8_t *buf = region(len, THP);
	volatile int stop = 0;
	double ns[SAMPLES];
	struct mapper m;
	struct bench_ctx c;

	if (!bitmap)
		die("calloc");
	ctx_open(&c, NONE);
	md.id = c.ioas;
	must(test_cmd(c.fd, &md), "IOMMU_TEST_OP_MOCK_DOMAIN");
	hwpt.dev_id = md.mock_domain.out_idev_id;
	hwpt.pt_id = c.ioas;
	if (ioctl(c.fd, IOMMU_HWPT_ALLOC, &hwpt))
		die("IOMMU_HWPT_ALLOC (dirty tracking)");
	md.op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE;
	md.id = md.mock_domain.out_stdev_id;
	md.mock_domain_replace.pt_id = hwpt.out_hwpt_id;
	must(test_cmd(c.fd, &md), "IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE");
	must(map_fixed(c.fd, c.ioas, buf, len, IOVA), "IOMMU_IOAS_MAP");
	track.hwpt_id = hwpt.out_hwpt_id;
	if (ioctl(c.fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &track))
		die("IOMMU_HWPT_SET_DIRTY_TRACKING");
	get.hwpt_id = hwpt.out_hwpt_id;
	get.data = (uintptr_t)bitmap;
	m = (struct mapper){ .c = &c, .buf = region(CONC_LEN, THP), .len = CONC_LEN,
			     .iova = IOVA_1G, .stop = &stop };
	if (with_map)
		mapper_start(&m);
	for (int i = 0; i != SAMPLES; i++) {
		double t0 = now_ns();

		if (ioctl(c.fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &get))
			die("IOMMU_HWPT_GET_DIRTY_BITMAP");
		ns[i] = now_ns() - t0;
	}
	stop = 1;
	if (with_map)
		pthread_join(m.thread, NULL);
	latencies(name, ns, SAMPLES);
	ctx_close(&c);
	munmap(m.buf, CONC_LEN);
	munmap(buf, len);
	free(bitmap);
}

/* --- VFIO and VMM paths, with edu under VT-d --- */

/*
 * VFIO's type1 container on /dev/vfio/vfio, as DPDK and SPDK use it: edu's group
 * in a container, then VFIO_IOMMU_MAP_DMA and VFIO_IOMMU_UNMAP_DMA of one 4 KiB
 * page (pinned and mapped into the VT-d domain) over and over.
 */
static void vfio_type1_map_unmap(void)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.iova = IOVA_1G,
		.size = PAGE,
	};
	struct vfio_iommu_type1_dma_unmap unmap_dma = {
		.argsz = sizeof(unmap_dma), .iova = IOVA_1G, .size = PAGE };
	char group[64], path[128];
	int container, groupfd, n = 2000;
	void *buf = region(PAGE, PAGES_4K);
	double t0;

	if (sysfs_name(edu_bdf, "iommu_group", group, sizeof(group)))
		die("edu's IOMMU group");
	snprintf(path, sizeof(path), "/dev/vfio/%s", group);
	container = open("/dev/vfio/vfio", O_RDWR);
	groupfd = open(path, O_RDWR);
	if (container < 0 || groupfd < 0)
		die("open the VFIO container and group");
	if (ioctl(groupfd, VFIO_GROUP_SET_CONTAINER, &container) ||
	    ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		die("VFIO container set-up");
	map.vaddr = (uintptr_t)buf;
	t0 = now_ns();
	for (int i = 0; i != n; i++) {
		if (ioctl(container, VFIO_IOMMU_MAP_DMA, &map))
			die("VFIO_IOMMU_MAP_DMA");
		if (ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap_dma))
			die("VFIO_IOMMU_UNMAP_DMA");
	}
	result("vfio_type1_map_unmap", "", (now_ns() - t0) / n, "ns/op");
	close(groupfd);
	close(container);
	munmap(buf, PAGE);
}

/*
 * What a VMM does at start: map 2 GiB of THP guest memory into an IOAS whose
 * VT-d domain edu is attached to (every page pinned and mapped); then unmap it.
 * The time of the map.
 */
static void vm_start_2g_vtd(void)
{
	const size_t len = 2 * GB;
	struct bench_ctx c;
	void *buf = region(len, THP);
	double t0;

	ctx_open(&c, VTD);
	t0 = now_ns();
	must(map_fixed(c.fd, c.ioas, buf, len, IOVA_1G), "IOMMU_IOAS_MAP");
	result("vm_start_2g_vtd", "", (now_ns() - t0) / 1e6, "ms");
	must(unmap(c.fd, c.ioas, IOVA_1G, len, NULL), "IOMMU_IOAS_UNMAP");
	ctx_close(&c);
	munmap(buf, len);
}

/* Finds edu and hands it to vfio-pci; leaves edu_bdf empty if there is none. */
static void find_vfio_edu(void)
{
	if (find_edu(edu_bdf, sizeof(edu_bdf)) || bind_vfio_pci(edu_bdf)) {
		fprintf(stderr, "iommufd_bench: no edu device on vfio-pci: _vtd workloads skipped\n");
		edu_bdf[0] = 0;
	}
}

/* The workloads to run (see the usage). */
static const char *filter = "";

/* Whether the workload NAME with target t's suffix is selected by the filter. */
static int want(const char *name, enum target t)
{
	char full[128];

	if (t == VTD && !edu_bdf[0])
		return 0;
	snprintf(full, sizeof(full), "%s%s", name, suffix[t]);
	/* NAME$: exactly that workload. */
	if (filter[0] && filter[strlen(filter) - 1] == '$')
		return strlen(full) == strlen(filter) - 1 && !strncmp(full, filter, strlen(full));
	return strstr(full, filter) != NULL;
}

int main(int argc, char **argv)
{
	int reps = argc > 1 ? atoi(argv[1]) : 3;
	static const struct {
		const char *name;
		enum backing b;
		size_t len;
	} large[] = {
		{ "map_1g_4k", PAGES_4K, GB },
		{ "map_1g_thp", THP, GB },
		{ "map_128m_hugetlb", HUGETLB, 128 * MB },
	};

	if (argc > 2)
		filter = argv[2];
	find_vfio_edu();
	for (int r = 0; r <= reps; r++) {
		reporting = r > 0;
		for (enum target t = NONE; t <= VTD; t++)
			if (want("map_unmap_4k", t))
				map_unmap("map_unmap_4k", t, PAGES_4K, PAGE);
		for (enum target t = NONE; t <= VTD; t++)
			for (size_t i = 0; i != sizeof(large) / sizeof(large[0]); i++)
				/* VT-d: THP only (the mock covers the three backings). */
				if (want(large[i].name, t) && (t != VTD || large[i].b == THP))
					map_unmap(large[i].name, t, large[i].b, large[i].len);
		for (enum target t = NONE; t <= MOCK; t++)
			if (want("copy_1g", t))
				copy_1g(t);
		for (enum target t = NONE; t <= MOCK; t++)
			if (want("kmem_per_mapping", t) || want("close_100k_mappings", t))
				singles(t);
		if (want("kmem_per_pinned_page", NONE))
			kmem_per_pinned_page();
		if (want("concurrent_map_2t", NONE))
			concurrent_map_2t();
		if (want("access_rw_during_map", NONE))
			access_rw_during_map();
		if (want("dirty_read_during_map", NONE))
			dirty_read("dirty_read_during_map", 1);
		if (want("dirty_read_512m", NONE))
			dirty_read("dirty_read_512m", 0);
		if (edu_bdf[0] && want("vfio_type1_map_unmap", NONE))
			vfio_type1_map_unmap();
		if (edu_bdf[0] && want("vm_start_2g_vtd", NONE))
			vm_start_2g_vtd();
	}
	return 0;
}
