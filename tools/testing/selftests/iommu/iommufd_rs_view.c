// SPDX-License-Identifier: GPL-2.0-only
/*
 * Selftests of the Rust iommufd's live view, which the C iommufd lacks (every case
 * is in c-impl.skip): /proc/self/fdinfo of a /dev/iommu descriptor says how many
 * objects of each kind the context holds and how many bytes it pins, each page
 * once however many mappings share it; /sys/kernel/debug/iommufd/ has a directory
 * per context (objects, and each IOAS's mappings, pins, runs and ranges) and a
 * summary per process and user.
 *
 * Each value is checked against what the test did: objects it made and destroyed,
 * pages a mock domain pinned (and VmPin of /proc/self/status agreeing), pages
 * shared by IOMMU_IOAS_COPY, ranges it reserved and allowed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/iommu.h>

#include "kselftest_harness.h"
#include "iommufd_rs_utils.h"
#include "../../../../drivers/iommu/iommufd/iommufd_test.h"

/* Inside the mock domain's aperture (MOCK_APERTURE_START..LAST). */
#define IOVA ((uint64_t)MOCK_APERTURE_START)

/* The value of "key:\t<n>" in the fdinfo of fd; -1 if absent or not a number. */
static long fdinfo_value(int fd, const char *key)
{
	char path[64], line[128];
	size_t klen = strlen(key);
	long val = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *end;

		if (strncmp(line, key, klen) || line[klen] != ':' || line[klen + 1] != '\t')
			continue;
		val = strtol(line + klen + 2, &end, 10);
		if (end == line + klen + 2 || *end != '\n')
			val = -1;
		break;
	}
	fclose(f);
	return val;
}

FIXTURE(view)
{
	int fd;
	uint32_t ioas;
	uint8_t *buf;
};

FIXTURE_SETUP(view)
{
	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas));
	self->buf = map_aligned(64 * PAGE, HPAGE);
	ASSERT_NE(NULL, self->buf);
	memset(self->buf, 0x5a, 64 * PAGE);
}

FIXTURE_TEARDOWN(view)
{
	close(self->fd);
}

/* Every kind has a line; the counts follow creation and destruction. */
TEST_F(view, counts_objects_by_kind)
{
	static const char *const kinds[] = {
		"iommufd-ioas", "iommufd-access", "iommufd-device", "iommufd-hwpt_paging",
		"iommufd-hwpt_nested", "iommufd-fault", "iommufd-viommu", "iommufd-vdevice",
		"iommufd-veventq", "iommufd-hw_queue", "iommufd-selftest",
	};
	uint32_t ioas2, stdev, hwpt;

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		EXPECT_LE(0, fdinfo_value(self->fd, kinds[i]));
	EXPECT_EQ(1, fdinfo_value(self->fd, "iommufd-objects"));
	EXPECT_EQ(1, fdinfo_value(self->fd, "iommufd-ioas"));

	ASSERT_EQ(0, ioas_alloc(self->fd, &ioas2));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas, &stdev, &hwpt));
	EXPECT_EQ(2, fdinfo_value(self->fd, "iommufd-ioas"));
	/* The mock device is a test object and a device; its domain an automatic HWPT. */
	EXPECT_EQ(1, fdinfo_value(self->fd, "iommufd-selftest"));
	EXPECT_EQ(1, fdinfo_value(self->fd, "iommufd-device"));
	EXPECT_EQ(1, fdinfo_value(self->fd, "iommufd-hwpt_paging"));
	EXPECT_EQ(5, fdinfo_value(self->fd, "iommufd-objects"));

	ASSERT_EQ(0, destroy(self->fd, stdev));
	ASSERT_EQ(0, destroy(self->fd, ioas2));
	/* The automatic HWPT went with its last device. */
	EXPECT_EQ(0, fdinfo_value(self->fd, "iommufd-hwpt_paging"));
	EXPECT_EQ(0, fdinfo_value(self->fd, "iommufd-device"));
	EXPECT_EQ(1, fdinfo_value(self->fd, "iommufd-objects"));
}

/* Pinned bytes: nothing until a domain pins, then what it pinned, then nothing. */
TEST_F(view, pinned_bytes_follow_the_domain)
{
	long pin0 = vm_pinned_kb();
	uint32_t stdev;

	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, 16 * PAGE, IOVA));
	/* Mapping is lazy: nothing is pinned without a device. */
	EXPECT_EQ(0, fdinfo_value(self->fd, "iommufd-pinned-bytes"));

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas, &stdev, NULL));
	EXPECT_EQ((long)(16 * PAGE), fdinfo_value(self->fd, "iommufd-pinned-bytes"));
	EXPECT_EQ(pin0 + PAGES_KB(16), vm_pinned_kb());
	EXPECT_EQ(0, check_refs(self->fd, self->buf, 16 * PAGE, 1));

	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf + 16 * PAGE, 8 * PAGE,
			       IOVA + 16 * PAGE));
	EXPECT_EQ((long)(24 * PAGE), fdinfo_value(self->fd, "iommufd-pinned-bytes"));

	ASSERT_EQ(0, unmap(self->fd, self->ioas, IOVA, 16 * PAGE, NULL));
	EXPECT_EQ((long)(8 * PAGE), fdinfo_value(self->fd, "iommufd-pinned-bytes"));
	EXPECT_EQ(pin0 + PAGES_KB(8), vm_pinned_kb());

	ASSERT_EQ(0, destroy(self->fd, stdev));
	EXPECT_EQ(0, fdinfo_value(self->fd, "iommufd-pinned-bytes"));
	EXPECT_EQ(pin0, vm_pinned_kb());
}

/* Pages that IOMMU_IOAS_COPY shares between two IOAS count once, as they pin once. */
TEST_F(view, shared_pages_count_once)
{
	uint32_t ioas2, stdev1, stdev2;

	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, 32 * PAGE, IOVA));
	ASSERT_EQ(0, ioas_alloc(self->fd, &ioas2));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas, &stdev1, NULL));
	uint64_t dst = IOVA;

	ASSERT_EQ(0, copy(self->fd, ioas2, self->ioas, IOMMU_IOAS_MAP_FIXED_IOVA | RW, IOVA,
			  32 * PAGE, &dst));
	ASSERT_EQ(0, mock_domain(self->fd, ioas2, &stdev2, NULL));
	EXPECT_EQ(0, check_refs(self->fd, self->buf, 32 * PAGE, 1));
	EXPECT_EQ((long)(32 * PAGE), fdinfo_value(self->fd, "iommufd-pinned-bytes"));
	ASSERT_EQ(0, destroy(self->fd, stdev1));
	ASSERT_EQ(0, destroy(self->fd, stdev2));
	EXPECT_EQ(0, fdinfo_value(self->fd, "iommufd-pinned-bytes"));
}

/* Two contexts: each one's fdinfo counts its own. */
TEST_F(view, per_context)
{
	int fd2 = open("/dev/iommu", O_RDWR);
	uint32_t ioas2, stdev;

	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, ioas_alloc(fd2, &ioas2));
	ASSERT_EQ(0, map_fixed(fd2, ioas2, self->buf, 4 * PAGE, IOVA));
	ASSERT_EQ(0, mock_domain(fd2, ioas2, &stdev, NULL));
	EXPECT_EQ((long)(4 * PAGE), fdinfo_value(fd2, "iommufd-pinned-bytes"));
	EXPECT_EQ(0, fdinfo_value(self->fd, "iommufd-pinned-bytes"));
	EXPECT_EQ(1, fdinfo_value(self->fd, "iommufd-objects"));
	close(fd2);
}

struct churn {
	int fd;
	uint32_t ioas;
	uint8_t *buf;
	volatile int stop;
	int errors;
};

static void *churn_maps(void *arg)
{
	struct churn *c = arg;

	while (!c->stop) {
		if (map_fixed(c->fd, c->ioas, c->buf, 8 * PAGE, IOVA) ||
		    unmap(c->fd, c->ioas, IOVA, 8 * PAGE, NULL))
			c->errors++;
	}
	return NULL;
}

/*
 * Runs churn_maps on c while sampling read(c) 300 times, then stops it; returns the
 * first sample that is neither 0 nor whole, 0 if there was none. Errors of the
 * thread count in c->errors.
 */
static long sample_during_churn(struct churn *c, long (*read)(struct churn *c), long whole)
{
	long bad = 0;
	pthread_t t;

	if (pthread_create(&t, NULL, churn_maps, c))
		return -1;
	for (int i = 0; i < 300 && !bad; i++) {
		long v = read(c);

		if (v != 0 && v != whole)
			bad = v;
	}
	c->stop = 1;
	if (pthread_join(t, NULL))
		c->errors++;
	return bad;
}

static long fdinfo_pinned(struct churn *c)
{
	return fdinfo_value(c->fd, "iommufd-pinned-bytes");
}

/* Reading while another thread maps and unmaps sees the table between operations. */
TEST_F(view, consistent_under_concurrent_maps)
{
	struct churn c = { .fd = self->fd, .ioas = self->ioas, .buf = self->buf };
	uint32_t stdev;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas, &stdev, NULL));
	/* Either the whole mapping is pinned or none of it. */
	EXPECT_EQ(0, sample_during_churn(&c, fdinfo_pinned, 8 * PAGE));
	EXPECT_EQ(0, c.errors);
	EXPECT_EQ(0, fdinfo_value(self->fd, "iommufd-pinned-bytes"));
}

#define DEBUGFS "/sys/kernel/debug/iommufd"

/* The numbers N of this process's context directories PID-N, ascending; how many. */
static int ctx_dirs(int *out, int max)
{
	char prefix[32];
	struct dirent *d;
	int n = 0;
	DIR *dir;

	snprintf(prefix, sizeof(prefix), "%d-", getpid());
	dir = opendir(DEBUGFS);
	if (!dir)
		return -1;
	while ((d = readdir(dir))) {
		if (strncmp(d->d_name, prefix, strlen(prefix)) || n == max)
			continue;
		out[n++] = atoi(d->d_name + strlen(prefix));
	}
	closedir(dir);
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && out[j - 1] > out[j]; j--) {
			int t = out[j];

			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return n;
}

/* Reads the whole of path into buf (NUL-terminated); its length, or -1. */
static ssize_t slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
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

/* Reads file name of the only context directory of this process. */
static ssize_t ctx_file(const char *name, char *buf, size_t size)
{
	char path[128];
	int n[2];

	if (ctx_dirs(n, 2) != 1)
		return -1;
	snprintf(path, sizeof(path), DEBUGFS "/%d-%d/%s", getpid(), n[0], name);
	return slurp(path, buf, size);
}

/* The line of buf that starts with prefix, copied to line; 0 if found. */
static int find_line(const char *buf, const char *prefix, char *line, size_t size)
{
	for (const char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		size_t len = strcspn(p, "\n");

		if (!strncmp(p, prefix, strlen(prefix)) && len < size) {
			memcpy(line, p, len);
			line[len] = 0;
			return 0;
		}
	}
	return -1;
}

/* The value of "key=<n>" in line; -1 if absent. */
static long field(const char *line, const char *key)
{
	char pat[32];
	const char *p;

	snprintf(pat, sizeof(pat), " %s=", key);
	p = strstr(line, pat);
	return p ? strtol(p + strlen(pat), NULL, 0) : -1;
}

/* objects: a line per object with its id and kind, following creation and destruction. */
TEST_F(view, debugfs_lists_objects)
{
	char buf[4096], line[128], want[64];
	uint32_t stdev, hwpt;

	ASSERT_LT(0, ctx_file("objects", buf, sizeof(buf)));
	snprintf(want, sizeof(want), "%u ioas users=", self->ioas);
	ASSERT_EQ(0, find_line(buf, want, line, sizeof(line)));
	EXPECT_LE(1, field(line, "users"));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas, &stdev, &hwpt));
	ASSERT_LT(0, ctx_file("objects", buf, sizeof(buf)));
	snprintf(want, sizeof(want), "%u selftest ", stdev);
	EXPECT_EQ(0, find_line(buf, want, line, sizeof(line)));
	snprintf(want, sizeof(want), "%u hwpt_paging ", hwpt);
	EXPECT_EQ(0, find_line(buf, want, line, sizeof(line)));
	/* The mock device's bound device. */
	EXPECT_NE(NULL, strstr(buf, " device users="));
	ASSERT_EQ(0, destroy(self->fd, stdev));
	ASSERT_LT(0, ctx_file("objects", buf, sizeof(buf)));
	snprintf(want, sizeof(want), "%u ioas users=", self->ioas);
	EXPECT_EQ(0, find_line(buf, want, line, sizeof(line)));
	snprintf(want, sizeof(want), "%u hwpt_paging ", hwpt);
	EXPECT_NE(0, find_line(buf, want, line, sizeof(line)));
	EXPECT_EQ(NULL, strstr(buf, " selftest "));
}

/* ioas: each mapping with its range, access, source and pins; totals and runs. */
TEST_F(view, debugfs_shows_mappings_and_pins)
{
	char buf[8192], line[256], want[64], src[64];
	long runs, sum = 0;
	uint32_t stdev;
	char *p;

	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, 16 * PAGE, IOVA));
	ASSERT_LT(0, ctx_file("ioas", buf, sizeof(buf)));
	snprintf(want, sizeof(want), "ioas %u\n", self->ioas);
	EXPECT_EQ(0, strncmp(buf, want, strlen(want)));
	snprintf(want, sizeof(want), "area %#llx-%#llx prot=rw ", (unsigned long long)IOVA,
		 (unsigned long long)(IOVA + 16 * PAGE - 1));
	ASSERT_EQ(0, find_line(buf, want, line, sizeof(line)));
	EXPECT_EQ(16, field(line, "pages"));
	/* Mapping is lazy: nothing pinned without a device. */
	EXPECT_EQ(0, field(line, "pinned"));
	snprintf(src, sizeof(src), " source=user:%#lx pid=%d ", (unsigned long)self->buf, getpid());
	EXPECT_NE(NULL, strstr(line, src));
	/* The guest runs the tests as root, whose CAP_IPC_LOCK means no charge (as C). */
	EXPECT_NE(NULL, strstr(line, " charge=none "));
	EXPECT_EQ(0, find_line(buf, "pinned pages=0 bytes=0 runs=0", line, sizeof(line)));
	EXPECT_EQ(0, find_line(buf, "domains 0 accesses 0", line, sizeof(line)));

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas, &stdev, NULL));
	ASSERT_LT(0, ctx_file("ioas", buf, sizeof(buf)));
	snprintf(want, sizeof(want), "area %#llx-", (unsigned long long)IOVA);
	ASSERT_EQ(0, find_line(buf, want, line, sizeof(line)));
	EXPECT_EQ(16, field(line, "pinned"));
	snprintf(want, sizeof(want), "pinned pages=16 bytes=%lu runs=", 16 * PAGE);
	ASSERT_EQ(0, find_line(buf, want, line, sizeof(line)));
	runs = field(line, "runs");
	EXPECT_LE(1, runs);
	EXPECT_GE(16, runs);
	/* The histogram counts every run once: "ORDER:COUNT" pairs. */
	ASSERT_EQ(0, find_line(buf, "runs-by-order", line, sizeof(line)));
	for (p = strchr(line, ':'); p; p = strchr(p + 1, ':'))
		sum += strtol(p + 1, NULL, 10);
	EXPECT_EQ(runs, sum);
	EXPECT_EQ(0, find_line(buf, "domains 1 accesses 0", line, sizeof(line)));
	ASSERT_EQ(0, destroy(self->fd, stdev));
	ASSERT_LT(0, ctx_file("ioas", buf, sizeof(buf)));
	EXPECT_EQ(0, find_line(buf, "pinned pages=0 bytes=0 runs=0", line, sizeof(line)));
}

/* devices: each bound device with its group, and what its RID is attached to. */
TEST_F(view, debugfs_shows_devices)
{
	struct iommu_test_cmd cmd = { .op = IOMMU_TEST_OP_MOCK_DOMAIN, .id = self->ioas };
	char buf[4096], line[256], want[64];
	uint32_t idev, hwpt;

	ASSERT_LE(0, ctx_file("devices", buf, sizeof(buf)));
	EXPECT_EQ(NULL, strstr(buf, "device "));
	ASSERT_EQ(0, test_cmd(self->fd, &cmd));
	idev = cmd.mock_domain.out_idev_id;
	hwpt = cmd.mock_domain.out_hwpt_id;
	ASSERT_LT(0, ctx_file("devices", buf, sizeof(buf)));
	snprintf(want, sizeof(want), "device %u dev=", idev);
	ASSERT_EQ(0, find_line(buf, want, line, sizeof(line)));
	EXPECT_LE(0, field(line, "group"));
	EXPECT_NE(-1, field(line, "coherent"));
	snprintf(want, sizeof(want), "attached pasid=rid hwpt=%u group-devices=1", hwpt);
	EXPECT_EQ(0, find_line(buf, want, line, sizeof(line)));
	ASSERT_EQ(0, destroy(self->fd, cmd.mock_domain.out_stdev_id));
	ASSERT_LE(0, ctx_file("devices", buf, sizeof(buf)));
	EXPECT_EQ(NULL, strstr(buf, "device "));
}

/* hwpts and queues: what each HWPT and vIOMMU is built on; what each queue holds. */
TEST_F(view, debugfs_shows_hwpts_and_queues)
{
	struct iommu_test_cmd md = { .op = IOMMU_TEST_OP_MOCK_DOMAIN, .id = self->ioas };
	struct iommu_hwpt_alloc parent = { .size = sizeof(parent),
					   .flags = IOMMU_HWPT_ALLOC_NEST_PARENT };
	struct iommu_viommu_alloc viommu = { .size = sizeof(viommu),
					     .type = IOMMU_VIOMMU_TYPE_SELFTEST };
	struct iommu_hwpt_selftest data = { .iotlb = IOMMU_TEST_IOTLB_DEFAULT };
	struct iommu_hwpt_alloc nested = { .size = sizeof(nested),
					   .data_type = IOMMU_HWPT_DATA_SELFTEST,
					   .data_len = sizeof(data),
					   .data_uptr = (uintptr_t)&data };
	struct iommu_vdevice_alloc vdev = { .size = sizeof(vdev), .virt_id = 0x99 };
	struct iommu_veventq_alloc veventq = { .size = sizeof(veventq),
					       .type = IOMMU_VEVENTQ_TYPE_SELFTEST,
					       .veventq_depth = 2 };
	struct iommu_fault_alloc fault = { .size = sizeof(fault) };
	struct iommu_test_cmd trigger = { .op = IOMMU_TEST_OP_TRIGGER_VEVENT };
	struct iommu_test_cmd replace = { .op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE };
	char buf[4096], line[256], want[128];

	ASSERT_EQ(0, test_cmd(self->fd, &md));
	snprintf(want, sizeof(want),
		 "hwpt %u paging ioas=%u auto=1 nest-parent=0 pasid=0 coherent=",
		 md.mock_domain.out_hwpt_id, self->ioas);
	ASSERT_LT(0, ctx_file("hwpts", buf, sizeof(buf)));
	EXPECT_EQ(0, find_line(buf, want, line, sizeof(line))) TH_LOG("%s", buf);

	parent.dev_id = md.mock_domain.out_idev_id;
	parent.pt_id = self->ioas;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_HWPT_ALLOC, &parent));
	viommu.dev_id = md.mock_domain.out_idev_id;
	viommu.hwpt_id = parent.out_hwpt_id;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_VIOMMU_ALLOC, &viommu));
	nested.dev_id = md.mock_domain.out_idev_id;
	nested.pt_id = viommu.out_viommu_id;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_HWPT_ALLOC, &nested));
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_FAULT_QUEUE_ALLOC, &fault));
	ASSERT_LT(0, ctx_file("hwpts", buf, sizeof(buf)));
	snprintf(want, sizeof(want), "hwpt %u paging ioas=%u auto=0 nest-parent=1 ",
		 parent.out_hwpt_id, self->ioas);
	EXPECT_EQ(0, find_line(buf, want, line, sizeof(line))) TH_LOG("%s", buf);
	snprintf(want, sizeof(want), "hwpt %u nested parent=%u viommu=%u pasid=0 fault=none",
		 nested.out_hwpt_id, parent.out_hwpt_id, viommu.out_viommu_id);
	EXPECT_EQ(0, find_line(buf, want, line, sizeof(line))) TH_LOG("%s", buf);
	snprintf(want, sizeof(want), "viommu %u type=%u parent=%u", viommu.out_viommu_id,
		 IOMMU_VIOMMU_TYPE_SELFTEST, parent.out_hwpt_id);
	EXPECT_EQ(0, find_line(buf, want, line, sizeof(line))) TH_LOG("%s", buf);

	/* A vEVENTQ of depth 2: two events queue, the third is lost. */
	vdev.viommu_id = viommu.out_viommu_id;
	vdev.dev_id = md.mock_domain.out_idev_id;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_VDEVICE_ALLOC, &vdev));
	veventq.viommu_id = viommu.out_viommu_id;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_VEVENTQ_ALLOC, &veventq));
	ASSERT_LT(0, ctx_file("queues", buf, sizeof(buf)));
	snprintf(want, sizeof(want), "fault %u queued=0 awaiting-response=0", fault.out_fault_id);
	EXPECT_EQ(0, find_line(buf, want, line, sizeof(line))) TH_LOG("%s", buf);
	snprintf(want, sizeof(want), "veventq %u viommu=%u type=%u depth=2 queued=0 lost=0",
		 veventq.out_veventq_id, viommu.out_viommu_id, IOMMU_VEVENTQ_TYPE_SELFTEST);
	EXPECT_EQ(0, find_line(buf, want, line, sizeof(line))) TH_LOG("%s", buf);
	/* Events come from a device attached to a nested HWPT of the vIOMMU. */
	replace.id = md.mock_domain.out_stdev_id;
	replace.mock_domain_replace.pt_id = nested.out_hwpt_id;
	ASSERT_EQ(0, test_cmd(self->fd, &replace));
	trigger.trigger_vevent.dev_id = md.mock_domain.out_idev_id;
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(0, test_cmd(self->fd, &trigger));
	ASSERT_LT(0, ctx_file("queues", buf, sizeof(buf)));
	snprintf(want, sizeof(want), "veventq %u viommu=%u type=%u depth=2 queued=2 lost=1",
		 veventq.out_veventq_id, viommu.out_viommu_id, IOMMU_VEVENTQ_TYPE_SELFTEST);
	EXPECT_EQ(0, find_line(buf, want, line, sizeof(line))) TH_LOG("%s", buf);
	close(veventq.out_veventq_fd);
	close(fault.out_fault_fd);
}

/* ioas: reserved ranges with why, and the allowed ranges. */
TEST_F(view, debugfs_shows_ranges)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_ADD_RESERVED,
		.id = self->ioas,
		.add_reserved = { .start = 0x10000, .length = 0x1000 },
	};
	struct iommu_iova_range allowed = { .start = 0x100000, .last = 0x1fffff };
	struct iommu_ioas_allow_iovas allow = {
		.size = sizeof(allow),
		.ioas_id = self->ioas,
		.num_iovas = 1,
		.allowed_iovas = (uintptr_t)&allowed,
	};
	char buf[4096], line[128];

	ASSERT_EQ(0, test_cmd(self->fd, &cmd));
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_ALLOW_IOVAS, &allow));
	ASSERT_LT(0, ctx_file("ioas", buf, sizeof(buf)));
	EXPECT_EQ(0, find_line(buf, "reserved 0x10000-0x10fff why=fixed", line, sizeof(line)));
	EXPECT_EQ(0, find_line(buf, "allowed 0x100000-0x1fffff", line, sizeof(line)));
}

/* summary: this process's context and what it pins; then nothing once closed. */
TEST_F(view, debugfs_summary_per_process)
{
	char buf[4096], line[128], want[64];
	uint32_t stdev;

	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, 8 * PAGE, IOVA));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas, &stdev, NULL));
	ASSERT_LT(0, slurp(DEBUGFS "/summary", buf, sizeof(buf)));
	snprintf(want, sizeof(want), "process %d contexts=1 pinned-bytes=%lu\n", getpid(),
		 8 * PAGE);
	EXPECT_NE(NULL, strstr(buf, want));
	snprintf(want, sizeof(want), "user %u ", geteuid());
	ASSERT_EQ(0, find_line(buf, want, line, sizeof(line)));
	EXPECT_LE(1, field(line, "contexts"));
	EXPECT_LE((long)(8 * PAGE), field(line, "pinned-bytes"));
	close(self->fd);
	ASSERT_LE(0, slurp(DEBUGFS "/summary", buf, sizeof(buf)));
	snprintf(want, sizeof(want), "process %d ", getpid());
	EXPECT_EQ(NULL, strstr(buf, want));
	self->fd = open("/dev/iommu", O_RDWR);
}

/* One directory per context, gone when it closes. */
TEST_F(view, debugfs_dir_per_context)
{
	int fd2 = open("/dev/iommu", O_RDWR);
	int n[4];

	ASSERT_LE(0, fd2);
	ASSERT_EQ(2, ctx_dirs(n, 4));
	EXPECT_LT(n[0], n[1]);
	close(fd2);
	ASSERT_EQ(1, ctx_dirs(n, 4));
	close(self->fd);
	EXPECT_EQ(0, ctx_dirs(n, 4));
	self->fd = open("/dev/iommu", O_RDWR);
}

/* Read-only: writes are refused; reads at any offset give the same bytes. */
TEST_F(view, debugfs_read_only_and_offsets)
{
	char path[128], whole[4096], again[4096], part[16];
	ssize_t len;
	int fd, n[1];

	ASSERT_EQ(1, ctx_dirs(n, 1));
	snprintf(path, sizeof(path), DEBUGFS "/%d-%d/objects", getpid(), n[0]);
	len = slurp(path, whole, sizeof(whole));
	ASSERT_LT(8, len);
	fd = open(path, O_RDWR);
	if (fd >= 0) {
		EXPECT_EQ(-1, write(fd, "1 ioas\n", 7));
		close(fd);
	}
	fd = open(path, O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(5, pread(fd, part, 5, 3));
	EXPECT_EQ(0, memcmp(part, whole + 3, 5));
	EXPECT_EQ(0, pread(fd, part, 5, len));
	EXPECT_EQ(0, pread(fd, part, 5, 1 << 20));
	EXPECT_EQ(-1, write(fd, "x", 1));
	close(fd);
	/* Nothing changed. */
	EXPECT_EQ(len, slurp(path, again, sizeof(again)));
	EXPECT_EQ(0, memcmp(again, whole, len));
}

/* bytes as iommufd_view prints them: "64.0 KiB", "1.0 MiB". */
static void human(unsigned long bytes, char *out, size_t size)
{
	if (bytes >= (1UL << 20))
		snprintf(out, size, "%.1f MiB", bytes / 1048576.0);
	else
		snprintf(out, size, "%.1f KiB", bytes / 1024.0);
}

/* The user tool's report on this process agrees with what the test did. */
TEST_F(view, tool_reports_the_context)
{
	char cmd[64], out[8192], want[160], size[32];
	uint32_t stdev, hwpt;
	size_t len = 0;
	FILE *p;

	if (access("./iommufd_view", X_OK))
		SKIP(return, "no ./iommufd_view beside the test (make check copies it)");
	ASSERT_EQ(0, map_fixed(self->fd, self->ioas, self->buf, 16 * PAGE, IOVA));
	ASSERT_EQ(0, mock_domain(self->fd, self->ioas, &stdev, &hwpt));
	snprintf(cmd, sizeof(cmd), "./iommufd_view -p %d", getpid());
	p = popen(cmd, "r");
	ASSERT_NE(NULL, p);
	while (len + 1 < sizeof(out) && fgets(out + len, sizeof(out) - len, p))
		len += strlen(out + len);
	ASSERT_EQ(0, pclose(p));
	human(16 * PAGE, size, sizeof(size));
	snprintf(want, sizeof(want), "process %d (iommufd_rs_view): 1 context(s), %s pinned\n",
		 getpid(), size);
	EXPECT_EQ(0, strncmp(out, want, strlen(want))) TH_LOG("%s", out);
	snprintf(want, sizeof(want), "    IOAS %u\n", self->ioas);
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("%s", out);
	snprintf(want, sizeof(want), "%#llx-%#llx rw", (unsigned long long)IOVA,
		 (unsigned long long)(IOVA + 16 * PAGE - 1));
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("%s", out);
	snprintf(want, sizeof(want), "from user:%#lx of pid %d", (unsigned long)self->buf,
		 getpid());
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("%s", out);
	snprintf(want, sizeof(want), "      RID -> HWPT %u\n", hwpt);
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("%s", out);
}

static long debugfs_pinned(struct churn *c)
{
	char buf[4096], line[128];

	if (ctx_file("ioas", buf, sizeof(buf)) <= 0 ||
	    find_line(buf, "pinned pages=", line, sizeof(line)))
		return -1;
	return strtol(line + strlen("pinned pages="), NULL, 10);
}

/* Reading ioas while another thread maps and unmaps sees whole mappings only. */
TEST_F(view, debugfs_consistent_under_concurrent_maps)
{
	struct churn c = { .fd = self->fd, .ioas = self->ioas, .buf = self->buf };
	uint32_t stdev;

	ASSERT_EQ(0, mock_domain(self->fd, self->ioas, &stdev, NULL));
	/* Either the whole mapping is there and pinned, or nothing. */
	EXPECT_EQ(0, sample_during_churn(&c, debugfs_pinned, 8));
	EXPECT_EQ(0, c.errors);
}

TEST_HARNESS_MAIN
