// SPDX-License-Identifier: GPL-2.0-only
/*
 * Concurrency stress: threads issue random valid ioctls on shared objects of
 * one context for a bounded time (STRESS_SECONDS, default 4; STRESS_THREADS,
 * default 4): maps and unmaps of overlapping ranges, copies between IOASes,
 * in-kernel access pins and copies, mock-domain attaches and replaces, a
 * dirty-tracking HWPT filled from the IOAS and its bitmap read, IOASes made and
 * destroyed. Any call may fail (the threads race each other); what is judged is
 * that every call returns, that each thread got work done, and that afterwards
 * no page stays pinned (MD_CHECK_REFS) and VmPin is back where it was. The
 * debug kernel (KASAN, lockdep, kmemleak) judges the rest. Passes on the C
 * iommufd too.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>

#include "kselftest_harness.h"
#include "iommufd_rs_utils.h"
#include "../../../../drivers/iommu/iommufd/iommufd_test.h"

#define IOVA_BASE ((uint64_t)MOCK_APERTURE_START)
#define WINDOW_PAGES 256
#define BUF_PAGES 64
#define MAX_THREADS 8

struct shared {
	int fd;
	uint8_t *buf;
	uint32_t ioas[2];
	uint32_t stdev;
	uint32_t hwpt[2];	/* the automatic HWPT of each IOAS for the mock device */
	uint32_t dirty_hwpt;	/* 0 if the mock could not make one */
	int access[2];		/* test accesses on ioas[0] (pins) and ioas[1] (copies) */
	struct timespec end;
};

struct worker {
	struct shared *s;
	uint64_t rng;
	long calls;
	pthread_t thread;
};

static uint64_t next(struct worker *w)
{
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return w->rng * 2685821657736338717ULL;
}

static unsigned int pick(struct worker *w, unsigned int n)
{
	return next(w) % n;
}

static uint64_t iova_of(struct worker *w)
{
	return IOVA_BASE + pick(w, WINDOW_PAGES) * PAGE;
}

static uint64_t len_of(struct worker *w)
{
	return (1 + pick(w, 16)) * PAGE;
}

static bool over(struct shared *s)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > s->end.tv_sec ||
	       (now.tv_sec == s->end.tv_sec && now.tv_nsec >= s->end.tv_nsec);
}

static void one_call(struct worker *w)
{
	struct shared *s = w->s;
	struct iommu_test_cmd t = { .size = sizeof(t) };
	uint32_t ioas = s->ioas[pick(w, 2)];

	switch (pick(w, 12)) {
	case 0:
	case 1:
	case 2:
		map_fixed(s->fd, ioas, s->buf + pick(w, BUF_PAGES - 16) * PAGE, len_of(w),
			  iova_of(w));
		break;
	case 3:
	case 4:
		unmap(s->fd, ioas, iova_of(w), len_of(w), NULL);
		break;
	case 5: {
		uint64_t src = iova_of(w), dst = src;

		copy(s->fd, s->ioas[1], s->ioas[0], IOMMU_IOAS_MAP_FIXED_IOVA | RW, src,
		     len_of(w), &dst);
		break;
	}
	case 6:
		/* An access pin, let go at once (an unmap may also ask it to). */
		t.op = IOMMU_TEST_OP_ACCESS_PAGES;
		t.id = s->access[0];
		t.access_pages.iova = iova_of(w);
		t.access_pages.length = len_of(w);
		t.access_pages.flags = pick(w, 2) ? MOCK_FLAGS_ACCESS_WRITE : 0;
		if (!ioctl(s->fd, IOMMU_TEST_CMD, &t)) {
			uint32_t item = t.access_pages.out_access_pages_id;

			t.op = IOMMU_TEST_OP_DESTROY_ACCESS_PAGES;
			t.destroy_access_pages.access_pages_id = item;
			ioctl(s->fd, IOMMU_TEST_CMD, &t);
		}
		break;
	case 7: {
		uint8_t tmp[64];

		t.op = IOMMU_TEST_OP_ACCESS_RW;
		t.id = s->access[pick(w, 2)];
		t.access_rw.iova = iova_of(w) + pick(w, PAGE);
		t.access_rw.length = 1 + pick(w, sizeof(tmp));
		t.access_rw.uptr = (uintptr_t)tmp;
		t.access_rw.flags = (pick(w, 2) ? MOCK_ACCESS_RW_WRITE : 0) |
				    (pick(w, 2) ? MOCK_ACCESS_RW_SLOW_PATH : 0);
		memset(tmp, 0x5a, sizeof(tmp));
		ioctl(s->fd, IOMMU_TEST_CMD, &t);
		break;
	}
	case 8:
		/* The shared mock device moves between the IOASes (and a HWPT of one). */
		t.op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE;
		t.id = s->stdev;
		t.mock_domain_replace.pt_id = pick(w, 3) ? ioas : s->hwpt[pick(w, 2)];
		ioctl(s->fd, IOMMU_TEST_CMD, &t);
		break;
	case 9: {
		/* A device of its own, attached and detached. */
		uint32_t stdev;

		if (!mock_domain(s->fd, ioas, &stdev, NULL))
			destroy(s->fd, stdev);
		break;
	}
	case 10:
		if (s->dirty_hwpt) {
			uint64_t bitmap[WINDOW_PAGES / 64] = { 0 };
			struct iommu_hwpt_get_dirty_bitmap get = {
				.size = sizeof(get),
				.hwpt_id = s->dirty_hwpt,
				.iova = IOVA_BASE,
				.length = WINDOW_PAGES * PAGE,
				.page_size = PAGE,
				.data = (uintptr_t)bitmap,
			};

			ioctl(s->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &get);
		}
		break;
	case 11: {
		/* An IOAS of its own, with a mapping, destroyed. */
		uint32_t tmp;

		if (!ioas_alloc(s->fd, &tmp)) {
			map_fixed(s->fd, tmp, s->buf, len_of(w), iova_of(w));
			destroy(s->fd, tmp);
		}
		break;
	}
	}
	w->calls++;
}

static void *work(void *arg)
{
	struct worker *w = arg;

	while (!over(w->s))
		one_call(w);
	return NULL;
}

static long env_long(const char *name, long def)
{
	const char *v = getenv(name);

	return v ? strtol(v, NULL, 0) : def;
}

static int create_access(int fd, uint32_t ioas, uint32_t flags)
{
	struct iommu_test_cmd t = {
		.op = IOMMU_TEST_OP_CREATE_ACCESS,
		.id = ioas,
		.create_access.flags = flags,
	};

	return test_cmd(fd, &t) ? -1 : (int)t.create_access.out_access_fd;
}

FIXTURE(stress)
{
	struct shared s;
};

FIXTURE_SETUP(stress)
{
	struct iommu_test_cmd replace = { .op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE };
	struct shared *s = &self->s;

	s->buf = map_aligned(BUF_PAGES * PAGE, 2 * MB);
	ASSERT_NE(NULL, s->buf);
	memset(s->buf, 1, BUF_PAGES * PAGE);
	s->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, s->fd);
	ASSERT_EQ(0, ioas_alloc(s->fd, &s->ioas[0]));
	ASSERT_EQ(0, ioas_alloc(s->fd, &s->ioas[1]));
	ASSERT_EQ(0, mock_domain(s->fd, s->ioas[1], &s->stdev, &s->hwpt[1]));
	/* Moved to ioas[0], for the automatic HWPT of that one too. */
	replace.id = s->stdev;
	replace.mock_domain_replace.pt_id = s->ioas[0];
	ASSERT_EQ(0, test_cmd(s->fd, &replace));
	s->hwpt[0] = replace.mock_domain_replace.pt_id;
	s->access[0] = create_access(s->fd, s->ioas[0], MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
	s->access[1] = create_access(s->fd, s->ioas[1], 0);
	ASSERT_LE(0, s->access[0]);
	ASSERT_LE(0, s->access[1]);
}

FIXTURE_TEARDOWN(stress)
{
}

/* Pins of the buffer, read through a new context; 0 if none is pinned. */
static int pinned_left(struct shared *s)
{
	int fd = open("/dev/iommu", O_RDWR), ret;

	if (fd < 0)
		return -1;
	ret = check_refs(fd, s->buf, BUF_PAGES * PAGE, 0);
	close(fd);
	return ret;
}

TEST_F_TIMEOUT(stress, threads_on_shared_objects_leave_nothing_pinned, 600)
{
	struct shared *s = &self->s;
	long threads = env_long("STRESS_THREADS", 4), pinned0 = vm_pinned_kb();
	struct worker w[MAX_THREADS] = {};
	struct iommu_hwpt_alloc dirty = {
		.size = sizeof(dirty),
		.flags = IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
		.pt_id = s->ioas[0],
	};
	struct iommu_hwpt_set_dirty_tracking track = {
		.size = sizeof(track),
		.flags = IOMMU_HWPT_DIRTY_TRACKING_ENABLE,
	};
	struct iommu_test_cmd idev = { .op = IOMMU_TEST_OP_MOCK_DOMAIN, .id = s->ioas[0] };
	int left = 0;

	if (threads < 1 || threads > MAX_THREADS)
		threads = 4;
	/* A HWPT with dirty tracking on, filled from ioas[0] as it changes. */
	ASSERT_EQ(0, test_cmd(s->fd, &idev));
	dirty.dev_id = idev.mock_domain.out_idev_id;
	if (!ioctl(s->fd, IOMMU_HWPT_ALLOC, &dirty)) {
		track.hwpt_id = dirty.out_hwpt_id;
		ASSERT_EQ(0, ioctl(s->fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &track));
		s->dirty_hwpt = dirty.out_hwpt_id;
	}
	clock_gettime(CLOCK_MONOTONIC, &s->end);
	s->end.tv_sec += env_long("STRESS_SECONDS", 4);
	for (long i = 0; i < threads; i++) {
		w[i].s = s;
		w[i].rng = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1) + 1;
		ASSERT_EQ(0, pthread_create(&w[i].thread, NULL, work, &w[i]));
	}
	for (long i = 0; i < threads; i++) {
		ASSERT_EQ(0, pthread_join(w[i].thread, NULL));
		TH_LOG("thread %ld: %ld calls", i, w[i].calls);
		EXPECT_LT(0, w[i].calls);
	}

	/* Everything goes with the descriptors. */
	close(s->access[0]);
	close(s->access[1]);
	close(s->fd);
	for (int i = 0; i < 50 && (left = pinned_left(s)); i++)
		usleep(100 * 1000);
	EXPECT_EQ(0, left) TH_LOG("pages left pinned");
	EXPECT_EQ(pinned0, vm_pinned_kb()) TH_LOG("VmPin left charged");
	munmap(s->buf, BUF_PAGES * PAGE);
}

/*
 * Maps and unmaps of disjoint ranges of one IOAS from several threads at once,
 * with a mock domain attached: every map succeeds, and while a thread's pieces
 * are mapped the domain translates each of them to that thread's own pages
 * (MD_CHECK_MAP), whatever the other threads are doing. Afterwards nothing is
 * pinned. Passes on the C iommufd too.
 */
#define PAR_THREADS 2
#define PAR_PIECES 16
#define PAR_PIECE_PAGES 8
#define PAR_ROUNDS 20

struct par_worker {
	int fd;
	uint32_t ioas, hwpt;
	uint8_t *buf;
	uint64_t iova;
	int errors;
	pthread_t thread;
};

static void *par_work(void *arg)
{
	struct par_worker *w = arg;
	size_t piece = PAR_PIECE_PAGES * PAGE;

	for (int r = 0; r < PAR_ROUNDS; r++) {
		for (int i = 0; i < PAR_PIECES; i++)
			if (map_fixed(w->fd, w->ioas, w->buf + i * piece, piece, w->iova + i * piece))
				w->errors++;
		for (int i = 0; i < PAR_PIECES; i++) {
			struct iommu_test_cmd check = {
				.op = IOMMU_TEST_OP_MD_CHECK_MAP,
				.id = w->hwpt,
				.check_map = {
					.iova = w->iova + i * piece,
					.length = piece,
					.uptr = (uintptr_t)(w->buf + i * piece),
				},
			};

			if (test_cmd(w->fd, &check))
				w->errors++;
		}
		for (int i = 0; i < PAR_PIECES; i++)
			if (unmap(w->fd, w->ioas, w->iova + i * piece, piece, NULL))
				w->errors++;
	}
	return NULL;
}

TEST(parallel_maps_of_disjoint_ranges_fill_the_domain)
{
	size_t len = PAR_PIECES * PAR_PIECE_PAGES * PAGE;
	struct par_worker w[PAR_THREADS] = {};
	uint32_t ioas, hwpt;
	long pinned0 = vm_pinned_kb();
	int fd = open("/dev/iommu", O_RDWR);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioas_alloc(fd, &ioas));
	ASSERT_EQ(0, mock_domain(fd, ioas, NULL, &hwpt));
	for (int t = 0; t < PAR_THREADS; t++) {
		w[t] = (struct par_worker){ .fd = fd, .ioas = ioas, .hwpt = hwpt };
		w[t].buf = map_anon(len, 0);
		ASSERT_NE(NULL, w[t].buf);
		/* Distinct bytes per page, so a wrong translation shows. */
		for (size_t b = 0; b < len; b += PAGE)
			w[t].buf[b] = (uint8_t)(t * 131 + b / PAGE);
		w[t].iova = MOCK_APERTURE_START + t * 2 * len;
	}
	for (int t = 0; t < PAR_THREADS; t++)
		ASSERT_EQ(0, pthread_create(&w[t].thread, NULL, par_work, &w[t]));
	for (int t = 0; t < PAR_THREADS; t++) {
		ASSERT_EQ(0, pthread_join(w[t].thread, NULL));
		EXPECT_EQ(0, w[t].errors) TH_LOG("thread %d", t);
		EXPECT_EQ(0, check_refs(fd, w[t].buf, len, 0));
	}
	EXPECT_EQ(pinned0, vm_pinned_kb());
	close(fd);
	for (int t = 0; t < PAR_THREADS; t++)
		munmap(w[t].buf, len);
}

TEST_HARNESS_MAIN
