// SPDX-License-Identifier: GPL-2.0-only
/*
 * Selftests of the Rust iommufd: hardware page tables filled from an IOAS,
 * with the mock IOMMU of the test command (IOMMU_TEST_OP_MOCK_DOMAIN).
 *
 * A mock device attached to an IOAS gets an iommu_domain in the mock's page
 * table format. Each test checks what the domain really translates
 * (IOMMU_TEST_OP_MD_CHECK_MAP reads the IO page table back and compares it with
 * the physical pages of the user's memory), the pin count of each page
 * (MD_CHECK_REFS) and VmPin, so that a mapping is pinned exactly while a
 * domain needs it, once however many domains and IOASes share it.
 */
#define _GNU_SOURCE
#include <sys/resource.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "iommufd_rs_utils.h"

/* Inside the mock domain's aperture (MOCK_APERTURE_START..LAST). */
#define IOVA (1UL << 24)

/* 0 if hwpt maps [iova, iova + len) to the memory at buf. */
static int check_map(int fd, uint32_t hwpt, uint64_t iova, void *buf, uint64_t len)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_MD_CHECK_MAP,
		.id = hwpt,
		.check_map = { .iova = iova, .length = len, .uptr = (uintptr_t)buf },
	};

	return test_cmd(fd, &cmd);
}

FIXTURE(domain)
{
	int fd;
	uint32_t ioas;
	uint8_t *buf;
	long pinned0;
};

FIXTURE_SETUP(domain)
{
	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas));
	self->buf = map_aligned(64 * PAGE, 2 * MB);
	ASSERT_NE(NULL, self->buf);
	memset(self->buf, 0x5a, 64 * PAGE);
	self->pinned0 = vm_pinned_kb();
	ASSERT_LE(0, self->pinned0);
}

FIXTURE_TEARDOWN(domain)
{
	close(self->fd);
}

/* Without a domain nothing is pinned; with one, every mapped page is, once. */
TEST_F(domain, map_pins_and_maps)
{
	uint32_t stdev, hwpt;

	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, 16 * PAGE, IOVA));
	EXPECT_EQ(self->pinned0, vm_pinned_kb());
	EXPECT_EQ(0, check_refs(self->fd, self->buf, 16 * PAGE, 0));

	/* Attaching fills the new domain from the existing mapping. */
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas, &stdev, &hwpt));
	EXPECT_NE(0, hwpt);
	EXPECT_EQ(self->pinned0 + PAGES_KB(16), vm_pinned_kb());
	EXPECT_EQ(0, check_refs(self->fd, self->buf, 16 * PAGE, 1));
	EXPECT_EQ(0, check_map(self->fd, hwpt, IOVA, self->buf, 16 * PAGE));

	/* A new mapping goes into the domain at once. */
	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf + 32 * PAGE, 8 * PAGE,
			       IOVA + 32 * PAGE));
	EXPECT_EQ(self->pinned0 + PAGES_KB(24), vm_pinned_kb());
	EXPECT_EQ(0, check_map(self->fd, hwpt, IOVA + 32 * PAGE, self->buf + 32 * PAGE,
			       8 * PAGE));
	/* The check itself fails on a wrong translation. */
	EXPECT_EQ(-EINVAL, check_map(self->fd, hwpt, IOVA, self->buf + PAGE, PAGE));

	/* Unmap takes the pages out of the domain and unpins them. */
	ASSERT_EQ(0, unmap(self->fd, self->ioas, IOVA, 16 * PAGE, NULL));
	EXPECT_EQ(self->pinned0 + PAGES_KB(8), vm_pinned_kb());
	EXPECT_EQ(0, check_refs(self->fd, self->buf, 16 * PAGE, 0));
	EXPECT_EQ(-EINVAL, check_map(self->fd, hwpt, IOVA, self->buf, PAGE));

	/* The IOAS is used by the HWPT, the HWPT by the device. */
	EXPECT_EQ(-EBUSY, destroy(self->fd, self->ioas));
	EXPECT_EQ(-EBUSY, destroy(self->fd, hwpt));
	/* Destroying the device frees its automatic HWPT, which unpins. */
	ASSERT_EQ(0, destroy(self->fd, stdev));
	EXPECT_EQ(-ENOENT, destroy(self->fd, hwpt));
	EXPECT_EQ(self->pinned0, vm_pinned_kb());
	EXPECT_EQ(0, check_refs(self->fd, self->buf + 32 * PAGE, 8 * PAGE, 0));
	EXPECT_EQ(0, destroy(self->fd, self->ioas));
}

/* Two devices share an automatic domain; two IOASes share pinned pages. */
TEST_F(domain, sharing)
{
	uint32_t stdev1, stdev2, stdev3, hwpt1, hwpt2, hwpt3, ioas2;
	uint64_t dst = IOVA + 64 * PAGE;

	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, 16 * PAGE, IOVA));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas, &stdev1, &hwpt1));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas, &stdev2, &hwpt2));
	EXPECT_EQ(hwpt1, hwpt2);
	EXPECT_EQ(0, check_refs(self->fd, self->buf, 16 * PAGE, 1));

	/* A copy into another IOAS with its own domain shares the pins: one per page. */
	ASSERT_EQ(0, ioas_alloc(self->fd, &ioas2));
	ASSERT_EQ(0, mock_domain(self->fd, ioas2, &stdev3, &hwpt3));
	EXPECT_NE(hwpt1, hwpt3);
	ASSERT_EQ(0, copy(self->fd, ioas2, self->ioas, IOMMU_IOAS_MAP_FIXED_IOVA | RW, IOVA,
			  16 * PAGE, &dst));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, 16 * PAGE, 1));
	EXPECT_EQ(self->pinned0 + PAGES_KB(16), vm_pinned_kb());
	EXPECT_EQ(0, check_map(self->fd, hwpt3, IOVA + 64 * PAGE, self->buf, 16 * PAGE));

	/* The first device leaving keeps the shared domain for the second. */
	ASSERT_EQ(0, destroy(self->fd, stdev1));
	EXPECT_EQ(0, check_map(self->fd, hwpt2, IOVA, self->buf, 16 * PAGE));
	ASSERT_EQ(0, destroy(self->fd, stdev2));
	EXPECT_EQ(-ENOENT, destroy(self->fd, hwpt2));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, 16 * PAGE, 1));
	ASSERT_EQ(0, destroy(self->fd, stdev3));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, 16 * PAGE, 0));
	EXPECT_EQ(self->pinned0, vm_pinned_kb());
}

/* The domain's aperture and page size constrain the IOAS while attached. */
TEST_F(domain, aperture_and_alignment)
{
	struct iommu_ioas_iova_ranges ranges = { .size = sizeof(ranges), .ioas_id = self->ioas };
	uint32_t stdev, hwpt;

	/* A mapping outside the aperture prevents the attach. */
	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, PAGE, PAGE));
	EXPECT_EQ(-EADDRINUSE, mock_domain(self->fd, self->ioas, &stdev, &hwpt));
	EXPECT_EQ(self->pinned0, vm_pinned_kb());
	ASSERT_EQ(0, unmap(self->fd, self->ioas, PAGE, PAGE, NULL));

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas, &stdev, &hwpt));
	/* Outside the aperture is reserved while the domain is attached. */
	EXPECT_EQ(-EINVAL, map_fixed(self->fd, self->ioas, self->buf, PAGE, PAGE));
	ranges.num_iovas = 0;
	EXPECT_EQ(-EMSGSIZE, ioctl(self->fd, IOMMU_IOAS_IOVA_RANGES, &ranges) ? -errno : 0);
	EXPECT_EQ(1, ranges.num_iovas);
	/* The mock's 2 KiB pages set the alignment. */
	EXPECT_EQ(2048, ranges.out_iova_alignment);
	ASSERT_EQ(0, destroy(self->fd, stdev));
	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, PAGE, PAGE));
}

/*
 * VFIO type1 through /dev/iommu: an unmap inside a mapping cuts it, and
 * exactly the pages unmapped leave the domain and are unpinned.
 */
TEST_F(domain, vfio_type1_cut)
{
	struct iommu_vfio_ioas set = {
		.size = sizeof(set), .op = IOMMU_VFIO_IOAS_SET, .ioas_id = self->ioas,
	};
	struct vfio_iommu_type1_dma_map dma_map = {
		.argsz = sizeof(dma_map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)self->buf, .iova = IOVA, .size = 16 * PAGE,
	};
	struct vfio_iommu_type1_dma_unmap dma_unmap = {
		.argsz = sizeof(dma_unmap), .iova = IOVA + 6 * PAGE, .size = 4 * PAGE,
	};
	uint32_t stdev, hwpt;

	ASSERT_EQ(0, ioctl(self->fd, IOMMU_VFIO_IOAS, &set));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas, &stdev, &hwpt));
	ASSERT_EQ(0, ioctl(self->fd, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU));
	ASSERT_EQ(0, ioctl(self->fd, VFIO_IOMMU_MAP_DMA, &dma_map));
	EXPECT_EQ(self->pinned0 + PAGES_KB(16), vm_pinned_kb());
	EXPECT_EQ(0, check_map(self->fd, hwpt, IOVA, self->buf, 16 * PAGE));

	/* The middle four pages go; the 6 before and 6 after stay mapped and pinned. */
	ASSERT_EQ(0, ioctl(self->fd, VFIO_IOMMU_UNMAP_DMA, &dma_unmap));
	EXPECT_EQ(4 * PAGE, dma_unmap.size);
	EXPECT_EQ(self->pinned0 + PAGES_KB(12), vm_pinned_kb());
	EXPECT_EQ(0, check_refs(self->fd, self->buf + 6 * PAGE, 4 * PAGE, 0));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, 6 * PAGE, 1));
	EXPECT_EQ(0, check_refs(self->fd, self->buf + 10 * PAGE, 6 * PAGE, 1));
	EXPECT_EQ(0, check_map(self->fd, hwpt, IOVA, self->buf, 6 * PAGE));
	EXPECT_EQ(0, check_map(self->fd, hwpt, IOVA + 10 * PAGE, self->buf + 10 * PAGE,
			       6 * PAGE));
	EXPECT_EQ(-EINVAL, check_map(self->fd, hwpt, IOVA + 6 * PAGE, self->buf + 6 * PAGE, PAGE));

	/* Each half unmaps on its own, with its own pages. */
	dma_unmap.iova = IOVA + 10 * PAGE;
	dma_unmap.size = 6 * PAGE;
	ASSERT_EQ(0, ioctl(self->fd, VFIO_IOMMU_UNMAP_DMA, &dma_unmap));
	EXPECT_EQ(self->pinned0 + PAGES_KB(6), vm_pinned_kb());
	dma_unmap.iova = 0;
	dma_unmap.size = 0;
	dma_unmap.flags = VFIO_DMA_UNMAP_FLAG_ALL;
	ASSERT_EQ(0, ioctl(self->fd, VFIO_IOMMU_UNMAP_DMA, &dma_unmap));
	EXPECT_EQ(6 * PAGE, dma_unmap.size);
	EXPECT_EQ(self->pinned0, vm_pinned_kb());
	EXPECT_EQ(0, check_refs(self->fd, self->buf, 16 * PAGE, 0));
	ASSERT_EQ(0, destroy(self->fd, stdev));
}

/*
 * An allocation failure at each point of a map into an IOAS with a domain
 * (areas, pinning, IO page table levels) leaves nothing pinned or mapped.
 * Each round maps at a new IOVA, 1 MiB further, so that the domain needs new
 * page table levels too.
 */
TEST_F(domain, map_fail_nth)
{
	int fnth = fail_nth_open();
	uint32_t stdev, hwpt;
	int failures = 0;

	if (fnth < 0)
		SKIP(return, "fault injection is not available");
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas, &stdev, &hwpt));
	for (int nth = 1; nth < 300; nth++) {
		uint64_t iova = IOVA + nth * MB;
		bool reached;
		int ret;

		ASSERT_TRUE(fail_nth_arm(fnth, nth));
		ret = map_fixed(self->fd, self->ioas, self->buf + PAGE, 16 * PAGE, iova);
		reached = fail_nth_disarm(fnth);
		if (ret) {
			EXPECT_TRUE(fail_nth_errno(ret));
			failures++;
			EXPECT_EQ(self->pinned0, vm_pinned_kb());
			EXPECT_EQ(0, check_refs(self->fd, self->buf, 32 * PAGE, 0));
			EXPECT_EQ(-ENOENT, unmap(self->fd, self->ioas, iova, 16 * PAGE, NULL));
		} else {
			EXPECT_EQ(self->pinned0 + PAGES_KB(16), vm_pinned_kb());
			EXPECT_EQ(0, check_map(self->fd, hwpt, iova, self->buf + PAGE, 16 * PAGE));
			ASSERT_EQ(0, unmap(self->fd, self->ioas, iova, 16 * PAGE, NULL));
		}
		EXPECT_EQ(self->pinned0, vm_pinned_kb());
		if (!reached)
			break;
	}
	EXPECT_LT(0, failures);
	ASSERT_EQ(0, destroy(self->fd, stdev));
	close(fnth);
}

/*
 * Over RLIMIT_MEMLOCK, a MAP into an IOAS with a domain fails with ENOMEM and
 * leaves nothing pinned, charged or mapped; so does attaching a domain to an
 * IOAS whose mappings exceed the limit.
 */
#include "iommufd_rs_limit.h"

TEST_F(limit, map_over_memlock)
{
	struct rlimit rl = { .rlim_cur = 32 * PAGE, .rlim_max = RLIM_INFINITY };
	long pinned0 = vm_pinned_kb(), locked0 = status_kb("VmLck");
	uint32_t ioas, ioas2, stdev, hwpt;
	uint64_t iova = 0;

	ASSERT_EQ(0, set_rlimit_mode(self->fd, variant->mode));
	ASSERT_EQ(0, drop_cap(CAP_IPC_LOCK));
	ASSERT_EQ(0, setrlimit(RLIMIT_MEMLOCK, &rl));
	ASSERT_EQ(0, ioas_alloc(self->fd, &ioas));
	ASSERT_EQ(0, mock_domain(self->fd, ioas, &stdev, &hwpt));

	ASSERT_EQ(0, map_fixed(self->fd, ioas, self->buf, 24 * PAGE, IOVA));
	EXPECT_EQ(pinned0 + PAGES_KB(24), vm_pinned_kb());
	EXPECT_EQ(locked0 + (variant->mode ? PAGES_KB(24) : 0), status_kb("VmLck"));
	/* 24 + 16 > 32 pages. */
	EXPECT_EQ(-ENOMEM, map_fixed(self->fd, ioas, self->buf + 32 * PAGE, 16 * PAGE,
				     IOVA + 32 * PAGE));
	EXPECT_EQ(-ENOMEM, map(self->fd, ioas, RW, self->buf + 32 * PAGE, 16 * PAGE, &iova));
	EXPECT_EQ(pinned0 + PAGES_KB(24), vm_pinned_kb());
	EXPECT_EQ(locked0 + (variant->mode ? PAGES_KB(24) : 0), status_kb("VmLck"));
	EXPECT_EQ(0, check_refs(self->fd, self->buf + 32 * PAGE, 16 * PAGE, 0));
	/* Nothing was left mapped: the IOVA is free. */
	EXPECT_EQ(-ENOENT, unmap(self->fd, ioas, IOVA + 32 * PAGE, 16 * PAGE, NULL));
	/* Within the limit it works. */
	ASSERT_EQ(0, map_fixed(self->fd, ioas, self->buf + 32 * PAGE, 8 * PAGE, IOVA + 32 * PAGE));
	EXPECT_EQ(pinned0 + PAGES_KB(32), vm_pinned_kb());

	/* A mapping over the limit in an IOAS without a domain pins nothing... */
	ASSERT_EQ(0, ioas_alloc(self->fd, &ioas2));
	ASSERT_EQ(0, map_fixed(self->fd, ioas2, self->buf + 48 * PAGE, 16 * PAGE, IOVA));
	/* ...until a domain needs it: then the attach fails and pins nothing. */
	EXPECT_EQ(-ENOMEM, mock_domain(self->fd, ioas2, NULL, NULL));
	EXPECT_EQ(pinned0 + PAGES_KB(32), vm_pinned_kb());
	EXPECT_EQ(0, check_refs(self->fd, self->buf + 48 * PAGE, 16 * PAGE, 0));

	ASSERT_EQ(0, destroy(self->fd, stdev));
	EXPECT_EQ(pinned0, vm_pinned_kb());
	EXPECT_EQ(locked0, status_kb("VmLck"));
}

/* Closing the file with a domain and mappings releases every pin. */
TEST(close_releases)
{
	long pinned0 = vm_pinned_kb();
	uint8_t *buf = map_aligned(32 * PAGE, 2 * MB);
	uint32_t ioas, stdev, hwpt;
	int fd = open("/dev/iommu", O_RDWR);

	ASSERT_LE(0, fd);
	ASSERT_NE(NULL, buf);
	memset(buf, 3, 32 * PAGE);
	ASSERT_EQ(0, ioas_alloc(fd, &ioas));
	ASSERT_EQ(0, mock_domain(fd, ioas, &stdev, &hwpt));
	ASSERT_EQ(0, map_fixed(fd, ioas, buf, 32 * PAGE, IOVA));
	EXPECT_EQ(pinned0 + PAGES_KB(32), vm_pinned_kb());
	close(fd);
	EXPECT_EQ(pinned0, vm_pinned_kb());
	fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, check_refs(fd, buf, 32 * PAGE, 0));
	close(fd);
}

TEST_HARNESS_MAIN
