// SPDX-License-Identifier: GPL-2.0-only
/*
 * Selftests of the Rust iommufd's tracepoints (the trace system "iommufd",
 * include/trace/events/iommufd.h), which the C iommufd lacks (every case is in
 * c-impl.skip): each case enables the events, does what it traces, and finds in the
 * trace buffer the very lines the events must print, field by field: the context's
 * number (N of its live-view directory PID-N), object ids the ioctls returned, IOVA,
 * lengths, the pages a mock domain pinned and unpinned, errno values.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/iommu.h>

#include "kselftest_harness.h"
#include "iommufd_rs_utils.h"
#include "../../../../drivers/iommu/iommufd/iommufd_test.h"

#define TRACEFS "/sys/kernel/tracing"
#define VIEW "/sys/kernel/debug/iommufd"
/* Inside the mock domain's aperture. */
#define IOVA ((uint64_t)MOCK_APERTURE_START)

/* Makes tracefs available at TRACEFS; 0 if it is. */
static int tracefs_mount(void)
{
	if (!access(TRACEFS "/trace", F_OK))
		return 0;
	return mount("nodev", TRACEFS, "tracefs", 0, NULL);
}

/* Enables (1) or disables (0) every iommufd event; 0 on success. */
static int events_enable(int on)
{
	return write_file(TRACEFS "/events/iommufd/enable", on ? "1" : "0");
}

/* Empties the trace buffer. */
static int trace_clear(void)
{
	int fd = open(TRACEFS "/trace", O_WRONLY | O_TRUNC);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* The trace buffer, NUL-terminated, in a buffer of size bytes; its length or -1. */
static ssize_t trace_read(char *buf, size_t size)
{
	int fd = open(TRACEFS "/trace", O_RDONLY);
	size_t len = 0;
	ssize_t r;

	if (fd < 0)
		return -1;
	while (len + 1 < size && (r = read(fd, buf + len, size - 1 - len)) > 0)
		len += r;
	close(fd);
	buf[len] = 0;
	return len;
}

/* How many lines of buf hold want. */
static int count(const char *buf, const char *want)
{
	int n = 0;

	for (const char *p = buf; (p = strstr(p, want)); p += strlen(want))
		n++;
	return n;
}

/* The number N of this process's only context directory PID-N of the live view; -1. */
static int ctx_number(void)
{
	char prefix[32];
	struct dirent *d;
	int n = -1, found = 0;
	DIR *dir;

	snprintf(prefix, sizeof(prefix), "%d-", getpid());
	dir = opendir(VIEW);
	if (!dir)
		return -1;
	while ((d = readdir(dir))) {
		if (strncmp(d->d_name, prefix, strlen(prefix)))
			continue;
		n = atoi(d->d_name + strlen(prefix));
		found++;
	}
	closedir(dir);
	return found == 1 ? n : -1;
}

FIXTURE(trace)
{
	int fd;
	int ctx;
	uint32_t ioas;
	uint8_t *buf;
	char *out;
};

#define OUT_SIZE (1 << 20)

FIXTURE_SETUP(trace)
{
	if (tracefs_mount() || access(TRACEFS "/events/iommufd/enable", W_OK))
		SKIP(return, "no iommufd events in tracefs (CONFIG_TRACING?)");
	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->fd);
	self->ctx = ctx_number();
	ASSERT_LE(0, self->ctx);
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas));
	self->buf = map_aligned(16 * PAGE, HPAGE);
	ASSERT_NE(NULL, self->buf);
	memset(self->buf, 0x5a, 16 * PAGE);
	self->out = malloc(OUT_SIZE);
	ASSERT_NE(NULL, self->out);
	ASSERT_EQ(0, trace_clear());
	ASSERT_EQ(0, events_enable(1));
}

FIXTURE_TEARDOWN(trace)
{
	events_enable(0);
	trace_clear();
	free(self->out);
	close(self->fd);
}

/* The trace so far in self->out, asserting that it could be read. */
#define READ_TRACE() ASSERT_LT(0, trace_read(self->out, OUT_SIZE))

/* A line of the trace holds the formatted text exactly once. */
#define EXPECT_TRACED(...)                                                   \
	do {                                                                 \
		char _want[256];                                             \
		snprintf(_want, sizeof(_want), __VA_ARGS__);                 \
		EXPECT_EQ(1, count(self->out, _want))                        \
			TH_LOG("want \"%s\" in:\n%s", _want, self->out);     \
	} while (0)

/*
 * Map, pin, unmap, unpin: a map without a device pins nothing; a mock domain's attach
 * pins all 16 pages; the unmap unpins them all and leaves no run.
 */
TEST_F(trace, map_pin_unmap_unpin)
{
	uint64_t unmapped, len = 16 * PAGE;
	uint32_t stdev, hwpt;
	unsigned long runs;
	char *p;

	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, len, IOVA));
	READ_TRACE();
	EXPECT_TRACED("iommufd_map: ctx=%d ioas=%u iova=0x%llx length=0x%llx flags=0x%x ret=0\n",
		      self->ctx, self->ioas, (unsigned long long)IOVA, (unsigned long long)len,
		      FIXED);
	EXPECT_EQ(0, count(self->out, "iommufd_pin:"));

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas, &stdev, &hwpt));
	READ_TRACE();
	/* The attach to the IOAS went through the automatic HWPT it made. */
	EXPECT_TRACED("iommufd_attach: ctx=%d dev=", self->ctx);
	EXPECT_TRACED(" pasid=0 old=0 new=%u ret=0\n", hwpt);
	EXPECT_TRACED("iommufd_pin: pid=%d addr=0x%lx index=0 npages=16 pages=16 runs=",
		      getpid(), (unsigned long)self->buf);
	/* At least one run; at most one a page. */
	p = strstr(self->out, "iommufd_pin:");
	ASSERT_NE(NULL, p);
	p = strstr(p, "runs=");
	ASSERT_NE(NULL, p);
	runs = strtoul(p + 5, &p, 10);
	EXPECT_LE(1, runs);
	EXPECT_GE(16, runs);
	EXPECT_EQ(0, strncmp(p, " ret=0\n", 7));

	ASSERT_EQ(0, trace_clear());
	ASSERT_EQ(0, unmap(self->fd, self->ioas, IOVA, len, &unmapped));
	READ_TRACE();
	EXPECT_TRACED("iommufd_unmap: ctx=%d ioas=%u iova=0x%llx length=0x%llx unmapped=0x%llx ret=0\n",
		      self->ctx, self->ioas, (unsigned long long)IOVA, (unsigned long long)len,
		      (unsigned long long)len);
	EXPECT_TRACED("iommufd_unpin: pid=%d addr=0x%lx index=0 npages=16 pages=16 runs=0 ret=0\n",
		      getpid(), (unsigned long)self->buf);
	ASSERT_EQ(0, destroy(self->fd, stdev));
}

/* Failures carry their errno: a map into an unknown IOAS, an unmap of nothing. */
TEST_F(trace, failures_carry_errno)
{
	uint64_t unmapped;

	EXPECT_EQ(-ENOENT, map_fixed(self->fd, 9999, self->buf, PAGE, IOVA));
	EXPECT_EQ(-ENOENT, unmap(self->fd, self->ioas, IOVA, PAGE, &unmapped));
	READ_TRACE();
	EXPECT_TRACED("iommufd_map: ctx=%d ioas=9999 iova=0x%llx length=0x%lx flags=0x%x ret=%d\n",
		      self->ctx, (unsigned long long)IOVA, PAGE, FIXED, -ENOENT);
	EXPECT_TRACED("iommufd_unmap: ctx=%d ioas=%u iova=0x%llx length=0x%lx unmapped=0x0 ret=%d\n",
		      self->ctx, self->ioas, (unsigned long long)IOVA, PAGE, -ENOENT);
}

/* Attach, replace, detach and destroy, with the ids the ioctls gave. */
TEST_F(trace, attach_replace_detach_destroy)
{
	struct iommu_test_cmd md = { .op = IOMMU_TEST_OP_MOCK_DOMAIN, .id = self->ioas };
	struct iommu_test_cmd replace = { .op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE };
	struct iommu_hwpt_alloc hwpt = { .size = sizeof(hwpt) };
	uint32_t dev, auto_hwpt;

	ASSERT_EQ(0, test_cmd(self->fd, &md));
	dev = md.mock_domain.out_idev_id;
	auto_hwpt = md.mock_domain.out_hwpt_id;
	hwpt.dev_id = dev;
	hwpt.pt_id = self->ioas;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_HWPT_ALLOC, &hwpt));
	replace.id = md.mock_domain.out_stdev_id;
	replace.mock_domain_replace.pt_id = hwpt.out_hwpt_id;
	ASSERT_EQ(0, test_cmd(self->fd, &replace));
	/* Busy, and unknown. */
	EXPECT_EQ(-EBUSY, destroy(self->fd, hwpt.out_hwpt_id));
	EXPECT_EQ(-ENOENT, destroy(self->fd, 9999));
	/* Destroying the mock device detaches it. */
	ASSERT_EQ(0, destroy(self->fd, md.mock_domain.out_stdev_id));
	ASSERT_EQ(0, destroy(self->fd, hwpt.out_hwpt_id));
	READ_TRACE();
	EXPECT_TRACED("iommufd_attach: ctx=%d dev=%u pasid=0 old=0 new=%u ret=0\n", self->ctx,
		      dev, auto_hwpt);
	EXPECT_TRACED("iommufd_replace: ctx=%d dev=%u pasid=0 old=%u new=%u ret=0\n", self->ctx,
		      dev, auto_hwpt, hwpt.out_hwpt_id);
	EXPECT_TRACED("iommufd_detach: ctx=%d dev=%u pasid=0 old=%u new=0 ret=0\n", self->ctx,
		      dev, hwpt.out_hwpt_id);
	EXPECT_TRACED("iommufd_destroy: ctx=%d id=%u kind=hwpt_paging ret=%d\n", self->ctx,
		      hwpt.out_hwpt_id, -EBUSY);
	EXPECT_TRACED("iommufd_destroy: ctx=%d id=9999 kind=none ret=%d\n", self->ctx, -ENOENT);
	EXPECT_TRACED("iommufd_destroy: ctx=%d id=%u kind=selftest ret=0\n", self->ctx,
		      md.mock_domain.out_stdev_id);
	EXPECT_TRACED("iommufd_destroy: ctx=%d id=%u kind=hwpt_paging ret=0\n", self->ctx,
		      hwpt.out_hwpt_id);
}

/*
 * An IO page fault delivered to a fault queue and answered through it; vEVENTs
 * reported to a queue of depth 1: the first queued, the second lost.
 */
TEST_F(trace, faults_and_vevents)
{
	struct iommu_test_cmd md = { .op = IOMMU_TEST_OP_MOCK_DOMAIN, .id = self->ioas };
	struct iommu_test_cmd replace = { .op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE };
	struct iommu_hwpt_alloc parent = { .size = sizeof(parent),
					   .flags = IOMMU_HWPT_ALLOC_NEST_PARENT };
	struct iommu_viommu_alloc viommu = { .size = sizeof(viommu),
					     .type = IOMMU_VIOMMU_TYPE_SELFTEST };
	struct iommu_hwpt_selftest data = { .iotlb = IOMMU_TEST_IOTLB_DEFAULT };
	struct iommu_hwpt_alloc iopf = { .size = sizeof(iopf),
					 .flags = IOMMU_HWPT_FAULT_ID_VALID,
					 .data_type = IOMMU_HWPT_DATA_SELFTEST,
					 .data_len = sizeof(data),
					 .data_uptr = (uintptr_t)&data };
	struct iommu_hwpt_alloc nested = { .size = sizeof(nested),
					   .data_type = IOMMU_HWPT_DATA_SELFTEST,
					   .data_len = sizeof(data),
					   .data_uptr = (uintptr_t)&data };
	struct iommu_vdevice_alloc vdev = { .size = sizeof(vdev), .virt_id = 0x99 };
	struct iommu_veventq_alloc veventq = { .size = sizeof(veventq),
					       .type = IOMMU_VEVENTQ_TYPE_SELFTEST,
					       .veventq_depth = 1 };
	struct iommu_fault_alloc fault = { .size = sizeof(fault) };
	struct iommu_test_cmd trigger = { .op = IOMMU_TEST_OP_TRIGGER_IOPF };
	struct iommu_test_cmd vevent = { .op = IOMMU_TEST_OP_TRIGGER_VEVENT };
	struct iommu_hwpt_page_response resp = { .code = IOMMUFD_PAGE_RESP_SUCCESS };
	struct iommu_hwpt_pgfault pgfault;
	uint32_t dev;

	ASSERT_EQ(0, test_cmd(self->fd, &md));
	dev = md.mock_domain.out_idev_id;
	parent.dev_id = dev;
	parent.pt_id = self->ioas;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_HWPT_ALLOC, &parent));
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_FAULT_QUEUE_ALLOC, &fault));
	iopf.dev_id = dev;
	iopf.pt_id = parent.out_hwpt_id;
	iopf.fault_id = fault.out_fault_id;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_HWPT_ALLOC, &iopf));
	replace.id = md.mock_domain.out_stdev_id;
	replace.mock_domain_replace.pt_id = iopf.out_hwpt_id;
	ASSERT_EQ(0, test_cmd(self->fd, &replace));

	trigger.trigger_iopf.dev_id = dev;
	trigger.trigger_iopf.pasid = 1;
	trigger.trigger_iopf.grpid = 2;
	trigger.trigger_iopf.perm = IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_WRITE;
	trigger.trigger_iopf.addr = 0xdeadb000;
	ASSERT_EQ(0, test_cmd(self->fd, &trigger));
	ASSERT_EQ(sizeof(pgfault), read(fault.out_fault_fd, &pgfault, sizeof(pgfault)));
	resp.cookie = pgfault.cookie;
	ASSERT_EQ(sizeof(resp), write(fault.out_fault_fd, &resp, sizeof(resp)));
	READ_TRACE();
	EXPECT_TRACED("iommufd_fault_deliver: ctx=%d fault=%u dev=%u pasid=1 addr=0xdeadb000 grpid=2 perm=0x%x count=1\n",
		      self->ctx, fault.out_fault_id, dev,
		      IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_WRITE);
	EXPECT_TRACED("iommufd_fault_respond: ctx=%d fault=%u dev=%u grpid=2 cookie=%u code=%u\n",
		      self->ctx, fault.out_fault_id, dev, pgfault.cookie,
		      IOMMUFD_PAGE_RESP_SUCCESS);

	/* vEVENTs come from a device attached to a nested HWPT of the vIOMMU. */
	viommu.dev_id = dev;
	viommu.hwpt_id = parent.out_hwpt_id;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_VIOMMU_ALLOC, &viommu));
	nested.dev_id = dev;
	nested.pt_id = viommu.out_viommu_id;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_HWPT_ALLOC, &nested));
	vdev.viommu_id = viommu.out_viommu_id;
	vdev.dev_id = dev;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_VDEVICE_ALLOC, &vdev));
	veventq.viommu_id = viommu.out_viommu_id;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_VEVENTQ_ALLOC, &veventq));
	replace.mock_domain_replace.pt_id = nested.out_hwpt_id;
	ASSERT_EQ(0, test_cmd(self->fd, &replace));
	vevent.trigger_vevent.dev_id = dev;
	ASSERT_EQ(0, test_cmd(self->fd, &vevent));
	ASSERT_EQ(0, test_cmd(self->fd, &vevent));
	READ_TRACE();
	EXPECT_TRACED("iommufd_vevent: ctx=%d veventq=%u type=%u length=%zu seq=0 lost=0\n",
		      self->ctx, veventq.out_veventq_id, IOMMU_VEVENTQ_TYPE_SELFTEST,
		      sizeof(struct iommu_viommu_event_selftest));
	EXPECT_TRACED("iommufd_vevent: ctx=%d veventq=%u type=%u length=%zu seq=1 lost=1\n",
		      self->ctx, veventq.out_veventq_id, IOMMU_VEVENTQ_TYPE_SELFTEST,
		      sizeof(struct iommu_viommu_event_selftest));
	close(veventq.out_veventq_fd);
	close(fault.out_fault_fd);
}

/* Events off: nothing is recorded. */
TEST_F(trace, nothing_when_disabled)
{
	ASSERT_EQ(0, events_enable(0));
	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, PAGE, IOVA));
	ASSERT_LE(0, trace_read(self->out, OUT_SIZE));
	EXPECT_EQ(0, count(self->out, "iommufd_")) TH_LOG("%s", self->out);
}

TEST_HARNESS_MAIN
