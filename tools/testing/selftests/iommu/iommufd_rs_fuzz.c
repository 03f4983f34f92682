// SPDX-License-Identifier: GPL-2.0-only
/*
 * Random sequences of calls over every kind of object (IOASes and mappings,
 * mock devices, HWPTs, vIOMMUs, vDEVICEs, nested HWPTs, fault queues,
 * vEVENTQs, HW queues, accesses and their pins, memfd and dma-buf mappings),
 * then every descriptor closed: nothing may stay pinned or charged. The
 * sequences are seeded, so a failing seed replays (FUZZ_SEED=n runs one seed,
 * FUZZ_SEEDS and FUZZ_CALLS set how many and how long). Each call may fail;
 * only what is left afterwards is judged, and the kernel log (KASAN, lockdep,
 * kmemleak) judges the rest. Passes on the C iommufd too.
 */
#define _GNU_SOURCE
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "iommufd_rs_utils.h"

#define IOVA_BASE (1UL << 24)
#define BUF_PAGES 64
#define MAX_OBJS 64
#define MAX_FDS 32

enum kind { K_IOAS, K_STDEV, K_IDEV, K_HWPT, K_VIOMMU, K_VDEV, K_NESTED, K_FAULT,
	    K_VEVENTQ, K_HWQ, K_NKINDS };

struct fuzz {
	int fd;
	uint8_t *buf, *mbuf;
	int memfd;
	uint64_t rng;
	uint32_t ids[K_NKINDS][MAX_OBJS];
	int nids[K_NKINDS];
	int fds[MAX_FDS];	/* event queue, access and dma-buf descriptors */
	int nfds;
	int afds[MAX_OBJS];	/* accesses */
	int nafds;
	uint32_t items[MAX_OBJS];	/* access pins (access fd << 16 | id) */
	int aitem_fd[MAX_OBJS];
	int nitems;
};

static uint64_t next(struct fuzz *f)
{
	/* xorshift64* */
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return f->rng * 2685821657736338717ULL;
}

static unsigned int pick(struct fuzz *f, unsigned int n)
{
	return n ? next(f) % n : 0;
}

static void add_id(struct fuzz *f, enum kind k, uint32_t id)
{
	if (f->nids[k] < MAX_OBJS)
		f->ids[k][f->nids[k]++] = id;
}

/* An id of kind k, now and then one of any kind or 0, to reach the errors. */
static uint32_t id_of(struct fuzz *f, enum kind k)
{
	unsigned int r = pick(f, 16);

	if (r == 0)
		return pick(f, 40);
	if (r == 1) {
		enum kind o = pick(f, K_NKINDS);

		return f->nids[o] ? f->ids[o][pick(f, f->nids[o])] : 0;
	}
	return f->nids[k] ? f->ids[k][pick(f, f->nids[k])] : 0;
}

static void add_fd(struct fuzz *f, int fd)
{
	if (fd < 0)
		return;
	if (f->nfds < MAX_FDS)
		f->fds[f->nfds++] = fd;
	else
		close(fd);
}

static uint64_t iova_of(struct fuzz *f)
{
	return IOVA_BASE + (uint64_t)pick(f, 2 * BUF_PAGES) * PAGE;
}

static uint64_t len_of(struct fuzz *f)
{
	return (uint64_t)(1 + pick(f, 8)) * PAGE;
}

static void one_call(struct fuzz *f)
{
	struct iommu_test_cmd t = { .size = sizeof(t) };
	uint32_t id = 0;
	uint64_t iova = 0;

	switch (pick(f, 26)) {
	case 0:
		if (!ioas_alloc(f->fd, &id))
			add_id(f, K_IOAS, id);
		break;
	case 1:
	case 2:
		map_fixed(f->fd, id_of(f, K_IOAS), f->buf + pick(f, BUF_PAGES - 8) * PAGE,
			  len_of(f), iova_of(f));
		break;
	case 3:
		map(f->fd, id_of(f, K_IOAS), RW, f->buf + pick(f, BUF_PAGES - 8) * PAGE,
		    len_of(f), &iova);
		break;
	case 4:
		if (pick(f, 4))
			unmap(f->fd, id_of(f, K_IOAS), iova_of(f), len_of(f), NULL);
		else
			unmap(f->fd, id_of(f, K_IOAS), 0, UINT64_MAX, NULL);
		break;
	case 5:
		copy(f->fd, id_of(f, K_IOAS), id_of(f, K_IOAS),
		     pick(f, 2) ? IOMMU_IOAS_MAP_FIXED_IOVA | RW : RW, iova_of(f), len_of(f),
		     &(uint64_t){ iova_of(f) });
		break;
	case 6:
		t.op = IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS;
		t.id = pick(f, 3) ? id_of(f, K_IOAS) : id_of(f, K_HWPT);
		t.mock_domain_flags.dev_flags = pick(f, 2) ? MOCK_FLAGS_DEVICE_PASID : 0;
		if (!ioctl(f->fd, IOMMU_TEST_CMD, &t)) {
			add_id(f, K_STDEV, t.mock_domain_flags.out_stdev_id);
			add_id(f, K_HWPT, t.mock_domain_flags.out_hwpt_id);
			add_id(f, K_IDEV, t.mock_domain_flags.out_idev_id);
		}
		break;
	case 7:
		t.op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE;
		t.id = id_of(f, K_STDEV);
		t.mock_domain_replace.pt_id = pick(f, 2) ? id_of(f, K_IOAS) :
				(pick(f, 2) ? id_of(f, K_HWPT) : id_of(f, K_NESTED));
		ioctl(f->fd, IOMMU_TEST_CMD, &t);
		break;
	case 8:
	case 9: {
		enum kind k = pick(f, K_NKINDS);

		destroy(f->fd, f->nids[k] ? f->ids[k][pick(f, f->nids[k])] : pick(f, 40));
		break;
	}
	case 10: {
		static const uint32_t fl[] = { 0, IOMMU_HWPT_ALLOC_NEST_PARENT,
			IOMMU_HWPT_ALLOC_DIRTY_TRACKING, IOMMU_HWPT_ALLOC_PASID };
		struct iommu_hwpt_alloc c = {
			.size = sizeof(c), .flags = fl[pick(f, 4)], .dev_id = id_of(f, K_IDEV),
			.pt_id = id_of(f, K_IOAS),
		};

		if (pick(f, 3) == 0 && f->nids[K_FAULT]) {
			c.flags |= IOMMU_HWPT_FAULT_ID_VALID;
			c.fault_id = id_of(f, K_FAULT);
		}
		if (!ioctl(f->fd, IOMMU_HWPT_ALLOC, &c))
			add_id(f, K_HWPT, c.out_hwpt_id);
		break;
	}
	case 11: {
		struct iommu_viommu_alloc c = {
			.size = sizeof(c), .type = IOMMU_VIOMMU_TYPE_SELFTEST,
			.dev_id = id_of(f, K_IDEV), .hwpt_id = id_of(f, K_HWPT),
		};

		if (!ioctl(f->fd, IOMMU_VIOMMU_ALLOC, &c))
			add_id(f, K_VIOMMU, c.out_viommu_id);
		break;
	}
	case 12: {
		struct iommu_vdevice_alloc c = {
			.size = sizeof(c), .viommu_id = id_of(f, K_VIOMMU),
			.dev_id = id_of(f, K_IDEV), .virt_id = pick(f, 8),
		};

		if (!ioctl(f->fd, IOMMU_VDEVICE_ALLOC, &c))
			add_id(f, K_VDEV, c.out_vdevice_id);
		break;
	}
	case 13: {
		struct iommu_hwpt_selftest data = { .iotlb = IOMMU_TEST_IOTLB_DEFAULT };
		struct iommu_hwpt_alloc c = {
			.size = sizeof(c), .dev_id = id_of(f, K_IDEV),
			.pt_id = pick(f, 2) ? id_of(f, K_VIOMMU) : id_of(f, K_HWPT),
			.data_type = IOMMU_HWPT_DATA_SELFTEST, .data_len = sizeof(data),
			.data_uptr = (uintptr_t)&data,
		};

		if (!ioctl(f->fd, IOMMU_HWPT_ALLOC, &c))
			add_id(f, K_NESTED, c.out_hwpt_id);
		break;
	}
	case 14: {
		struct iommu_veventq_alloc c = {
			.size = sizeof(c), .viommu_id = id_of(f, K_VIOMMU),
			.type = IOMMU_VEVENTQ_TYPE_SELFTEST, .veventq_depth = 1 + pick(f, 4),
		};
		struct iommu_fault_alloc fa = { .size = sizeof(fa) };

		if (pick(f, 2)) {
			if (!ioctl(f->fd, IOMMU_VEVENTQ_ALLOC, &c)) {
				add_id(f, K_VEVENTQ, c.out_veventq_id);
				add_fd(f, c.out_veventq_fd);
			}
		} else if (!ioctl(f->fd, IOMMU_FAULT_QUEUE_ALLOC, &fa)) {
			add_id(f, K_FAULT, fa.out_fault_id);
			add_fd(f, fa.out_fault_fd);
		}
		break;
	}
	case 15: {
		struct iommu_hw_queue_alloc c = {
			.size = sizeof(c), .viommu_id = id_of(f, K_VIOMMU),
			.type = IOMMU_HW_QUEUE_TYPE_SELFTEST, .index = pick(f, 2),
			.nesting_parent_iova = iova_of(f), .length = PAGE,
		};

		if (!ioctl(f->fd, IOMMU_HW_QUEUE_ALLOC, &c))
			add_id(f, K_HWQ, c.out_hw_queue_id);
		break;
	}
	case 16:
		t.op = IOMMU_TEST_OP_CREATE_ACCESS;
		t.id = id_of(f, K_IOAS);
		t.create_access.flags = pick(f, 4) ? MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES : 0;
		if (!ioctl(f->fd, IOMMU_TEST_CMD, &t) && f->nafds < MAX_OBJS)
			f->afds[f->nafds++] = t.create_access.out_access_fd;
		break;
	case 17:
	case 18:
		if (!f->nafds)
			break;
		t.op = IOMMU_TEST_OP_ACCESS_PAGES;
		t.id = f->afds[pick(f, f->nafds)];
		t.access_pages.iova = iova_of(f);
		t.access_pages.length = len_of(f);
		t.access_pages.flags = pick(f, 2) ? MOCK_FLAGS_ACCESS_WRITE : 0;
		if (!ioctl(f->fd, IOMMU_TEST_CMD, &t) && f->nitems < MAX_OBJS) {
			f->aitem_fd[f->nitems] = t.id;
			f->items[f->nitems++] = t.access_pages.out_access_pages_id;
		}
		break;
	case 19:
		if (!f->nitems)
			break;
		{
			unsigned int i = pick(f, f->nitems);

			t.op = IOMMU_TEST_OP_DESTROY_ACCESS_PAGES;
			t.id = f->aitem_fd[i];
			t.destroy_access_pages.access_pages_id = f->items[i];
			ioctl(f->fd, IOMMU_TEST_CMD, &t);
			f->items[i] = f->items[--f->nitems];
			f->aitem_fd[i] = f->aitem_fd[f->nitems];
		}
		break;
	case 20:
		if (!f->nafds)
			break;
		{
			uint8_t tmp[64];

			t.op = IOMMU_TEST_OP_ACCESS_RW;
			t.id = f->afds[pick(f, f->nafds)];
			t.access_rw.iova = iova_of(f) + pick(f, PAGE);
			t.access_rw.length = 1 + pick(f, sizeof(tmp));
			t.access_rw.uptr = (uintptr_t)tmp;
			t.access_rw.flags = (pick(f, 2) ? MOCK_ACCESS_RW_WRITE : 0) |
					    (pick(f, 2) ? MOCK_ACCESS_RW_SLOW_PATH : 0);
			ioctl(f->fd, IOMMU_TEST_CMD, &t);
		}
		break;
	case 21:
		if (!f->nafds)
			break;
		t.op = IOMMU_TEST_OP_ACCESS_REPLACE_IOAS;
		t.id = f->afds[pick(f, f->nafds)];
		t.access_replace_ioas.ioas_id = id_of(f, K_IOAS);
		ioctl(f->fd, IOMMU_TEST_CMD, &t);
		break;
	case 22:
		if (pick(f, 2)) {
			t.op = IOMMU_TEST_OP_TRIGGER_VEVENT;
			t.trigger_vevent.dev_id = id_of(f, K_IDEV);
		} else {
			t.op = IOMMU_TEST_OP_TRIGGER_IOPF;
			t.trigger_iopf.dev_id = id_of(f, K_IDEV);
			t.trigger_iopf.pasid = pick(f, 2);
			t.trigger_iopf.grpid = pick(f, 4);
			t.trigger_iopf.perm = IOMMU_PGFAULT_PERM_READ;
			t.trigger_iopf.addr = iova_of(f);
		}
		ioctl(f->fd, IOMMU_TEST_CMD, &t);
		break;
	case 23:
		t.op = pick(f, 2) ? IOMMU_TEST_OP_PASID_ATTACH : IOMMU_TEST_OP_PASID_DETACH;
		t.id = id_of(f, K_STDEV);
		if (t.op == IOMMU_TEST_OP_PASID_ATTACH) {
			t.pasid_attach.pasid = 1 + pick(f, 2);
			t.pasid_attach.pt_id = pick(f, 2) ? id_of(f, K_HWPT) : id_of(f, K_IOAS);
		} else {
			t.pasid_detach.pasid = 1 + pick(f, 2);
		}
		ioctl(f->fd, IOMMU_TEST_CMD, &t);
		break;
	case 24: {
		struct iommu_ioas_map_file mf = {
			.size = sizeof(mf), .flags = IOMMU_IOAS_MAP_FIXED_IOVA | RW,
			.ioas_id = id_of(f, K_IOAS), .fd = f->memfd,
			.start = pick(f, 8) * PAGE, .length = len_of(f), .iova = iova_of(f),
		};

		ioctl(f->fd, IOMMU_IOAS_MAP_FILE, &mf);
		break;
	}
	case 25: {
		/* A dma-buf of the mock exporter, mapped, and now and then revoked. */
		int dfd;
		struct iommu_ioas_map_file mf = {
			.size = sizeof(mf), .flags = IOMMU_IOAS_MAP_FIXED_IOVA | RW,
			.ioas_id = id_of(f, K_IOAS), .length = 2 * PAGE, .iova = iova_of(f),
		};

		t.op = IOMMU_TEST_OP_DMABUF_GET;
		t.dmabuf_get.length = 4 * PAGE;
		t.dmabuf_get.open_flags = O_CLOEXEC;
		dfd = ioctl(f->fd, IOMMU_TEST_CMD, &t);
		if (dfd < 0)
			break;
		mf.fd = dfd;
		ioctl(f->fd, IOMMU_IOAS_MAP_FILE, &mf);
		if (pick(f, 2)) {
			memset(&t, 0, sizeof(t));
			t.size = sizeof(t);
			t.op = IOMMU_TEST_OP_DMABUF_REVOKE;
			t.dmabuf_revoke.dmabuf_fd = dfd;
			t.dmabuf_revoke.revoked = 1;
			ioctl(f->fd, IOMMU_TEST_CMD, &t);
		}
		add_fd(f, dfd);
		break;
	}
	}
	/* Now and then a descriptor goes before the objects do. */
	if (pick(f, 32) == 0 && f->nfds) {
		unsigned int i = pick(f, f->nfds);

		close(f->fds[i]);
		f->fds[i] = f->fds[--f->nfds];
	}
}

static void close_all(struct fuzz *f)
{
	/* In a random order: the context first or last, and what holds it between. */
	if (pick(f, 2))
		close(f->fd);
	else
		f->fd = -f->fd - 1;
	while (f->nfds)
		close(f->fds[--f->nfds]);
	while (f->nafds)
		close(f->afds[--f->nafds]);
	if (f->fd < 0)
		close(-f->fd - 1);
}

static long env_long(const char *name, long def)
{
	const char *v = getenv(name);

	return v ? strtol(v, NULL, 0) : def;
}

/* Pins of the buffers, read through a new context; 0 if none is pinned. */
static int pinned_left(struct fuzz *f)
{
	int fd = open("/dev/iommu", O_RDWR), ret;

	if (fd < 0)
		return -1;
	ret = check_refs(fd, f->buf, BUF_PAGES * PAGE, 0);
	if (!ret)
		ret = check_refs(fd, f->mbuf, 16 * PAGE, 0);
	close(fd);
	return ret;
}

FIXTURE(fuzz)
{
	int unused;
};

FIXTURE_SETUP(fuzz)
{
}

FIXTURE_TEARDOWN(fuzz)
{
}

/* Some 2 s a seed on the debug kernel under TCG. */
TEST_F_TIMEOUT(fuzz, random_calls_leave_nothing_pinned, 900)
{
	long seed0 = env_long("FUZZ_SEED", 1), seeds = getenv("FUZZ_SEED") ? 1 :
		     env_long("FUZZ_SEEDS", 24), calls = env_long("FUZZ_CALLS", 400);
	struct fuzz f = {};
	long pinned0;

	f.buf = map_aligned(BUF_PAGES * PAGE, 2 * MB);
	ASSERT_NE(NULL, f.buf);
	memset(f.buf, 1, BUF_PAGES * PAGE);
	f.memfd = memfd_create("fuzz", 0);
	ASSERT_LE(0, f.memfd);
	ASSERT_EQ(0, ftruncate(f.memfd, 16 * PAGE));
	/* The memfd's pages, as the process sees them, for MD_CHECK_REFS. */
	f.mbuf = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, f.memfd, 0);
	ASSERT_NE(MAP_FAILED, f.mbuf);
	memset(f.mbuf, 2, 16 * PAGE);
	pinned0 = vm_pinned_kb();

	for (long s = seed0; s < seed0 + seeds; s++) {
		int left;

		memset(&f.ids, 0, sizeof(f.ids));
		memset(f.nids, 0, sizeof(f.nids));
		f.nfds = f.nafds = f.nitems = 0;
		f.rng = 0x9e3779b97f4a7c15ULL * (uint64_t)s + 1;
		f.fd = open("/dev/iommu", O_RDWR);
		ASSERT_LE(0, f.fd);
		for (long c = 0; c < calls; c++)
			one_call(&f);
		close_all(&f);
		/* Releases run as the descriptors close; give deferred work a moment. */
		for (int i = 0; i < 50 && (left = pinned_left(&f)); i++)
			usleep(100 * 1000);
		EXPECT_EQ(0, left) TH_LOG("seed %ld left pages pinned", s);
		EXPECT_EQ(pinned0, vm_pinned_kb()) TH_LOG("seed %ld left VmPin charged", s);
	}
	munmap(f.mbuf, 16 * PAGE);
	close(f.memfd);
}

TEST_HARNESS_MAIN
