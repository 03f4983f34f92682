// SPDX-License-Identifier: GPL-2.0-only
/*
 * iommufd_demo: what a VMM does with /dev/iommu, step by step, explained.
 *
 * Run by `make run` in the guest. Each step prints the ioctl, what it means for
 * a VMM, and what the kernel answered. The main job comes after the basics: the
 * VM's edu device handed to VFIO and bound to the iommufd, guest-like memory
 * mapped, the device's DMA going through the IOMMU both ways, a DMA to an
 * unmapped address stopped (with the IOMMU's fault report), and at each step
 * the live view of what the context holds (its directory in debugfs, fdinfo).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/iommu.h>

#include "../testing/selftests/iommu/iommufd_rs_edu.h"

/* Where the demo maps guest memory: under edu's 28-bit DMA mask. */
#define GUEST_IOVA 0x200000UL

static int failures;

static void step(const char *what, const char *why)
{
	printf("\n== %s\n   %s\n", what, why);
}

static void result(int ret, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void result(int ret, const char *fmt, ...)
{
	va_list ap;

	printf("   -> ");
	if (ret) {
		printf("failed: %s (errno %d)", strerror(errno), errno);
	} else {
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	printf("\n");
}

/* Prints the lines of path that start with one of the prefixes (all if none), indented. */
static void show_lines(const char *path, const char *const *prefixes)
{
	char line[512];
	FILE *f = fopen(path, "r");
	int lines = 0;

	if (!f) {
		printf("      (no %s: this iommufd has no live view)\n", path);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		int shown = !prefixes;

		for (const char *const *p = prefixes; p && *p && !shown; p++)
			shown = !strncmp(line, *p, strlen(*p));
		if (shown && ++lines)
			printf("      | %s", line);
	}
	if (!lines)
		printf("      | (nothing)\n");
	fclose(f);
}

/* Prints file name of this process's context directory in debugfs. */
static void show_view(const char *name, const char *const *prefixes)
{
	char prefix[32], dir[64] = "", path[PATH_MAX];
	struct dirent *e;
	DIR *d;

	snprintf(prefix, sizeof(prefix), "%d-", getpid());
	d = opendir("/sys/kernel/debug/iommufd");
	while (d && (e = readdir(d)))
		if (!strncmp(e->d_name, prefix, strlen(prefix)))
			copy_name(dir, sizeof(dir), e->d_name);
	if (d)
		closedir(d);
	snprintf(path, sizeof(path), "/sys/kernel/debug/iommufd/%s/%s", dir, name);
	printf("   live view, %s:\n", path);
	show_lines(path, prefixes);
}

/* Prints the summary over every context. */
static void show_summary(void)
{
	printf("   live view, /sys/kernel/debug/iommufd/summary:\n");
	show_lines("/sys/kernel/debug/iommufd/summary", NULL);
}

/* Runs the user tool iommufd_view, if it sits beside the demo, on this process. */
static void show_tool(void)
{
	char cmd[64];

	if (access("./iommufd_view", X_OK))
		return;
	printf("   the same, as the user tool tools/iommufd/iommufd_view reports it:\n");
	fflush(stdout);
	snprintf(cmd, sizeof(cmd), "./iommufd_view -p %d | sed 's/^/      : /'", getpid());
	if (system(cmd))
		printf("      (iommufd_view failed)\n");
}

/* Prints the last line of the kernel log that reports a blocked DMA. */
static void show_fault(void)
{
	int len = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	char *buf = len > 0 ? malloc(len + 1) : NULL;
	const char *last = NULL;
	int n;

	if (!buf)
		return;
	n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, len);
	buf[n > 0 ? n : 0] = 0;
	for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n"))
		for (size_t i = 0; i < ARRAY_SIZE(fault_lines); i++)
			if (strstr(l, fault_lines[i]))
				last = l;
	if (last)
		printf("   kernel log: %s\n", last);
	free(buf);
}

static void expect_errno(int ret, int want, const char *meaning)
{
	if (ret == -1 && errno == want) {
		printf("   -> refused with %s, as expected: %s\n", strerror(want), meaning);
	} else {
		printf("   -> UNEXPECTED: ret %d errno %d (wanted %s)\n", ret, errno, strerror(want));
		failures++;
	}
}

int main(void)
{
	struct iommu_iova_range ranges[8];
	uint32_t ioas, ioas2, dev_id = 0, pt_id;
	char bdf[64], group[64];
	int fd, devfd = -1, ret, faults;
	uint8_t *mem = MAP_FAILED;
	struct edu edu;

	step("open(\"/dev/iommu\")",
	     "A VMM opens /dev/iommu once per VM. Everything it builds lives in this file\n"
	     "   and is torn down when the file is closed.");
	fd = open("/dev/iommu", O_RDWR);
	if (fd < 0) {
		perror("   -> open");
		return 1;
	}
	printf("   -> fd %d\n", fd);

	step("IOMMU_IOAS_ALLOC",
	     "An IO address space (IOAS) is the guest-physical view that assigned devices\n"
	     "   will DMA into. QEMU makes one per address space it exposes to devices.");
	{
		struct iommu_ioas_alloc cmd = { .size = sizeof(cmd) };
		int ret = ioctl(fd, IOMMU_IOAS_ALLOC, &cmd);

		ioas = cmd.out_ioas_id;
		result(ret, "IOAS id %u", ioas);
		if (ret)
			failures++;
	}

	step("IOMMU_IOAS_IOVA_RANGES",
	     "Before mapping guest RAM, the VMM asks which IO virtual addresses it may use.\n"
	     "   With no device attached yet, nothing is reserved: the whole space is free.\n"
	     "   Devices attached later add reserved regions (MSI windows, firmware areas).");
	{
		struct iommu_ioas_iova_ranges cmd = {
			.size = sizeof(cmd),
			.ioas_id = ioas,
			.num_iovas = 8,
			.allowed_iovas = (uintptr_t)ranges,
		};
		int ret = ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &cmd);

		result(ret, "%u usable range(s), IOVA alignment %llu", cmd.num_iovas,
		       (unsigned long long)cmd.out_iova_alignment);
		for (uint32_t i = 0; !ret && i < cmd.num_iovas && i < 8; i++)
			printf("      [0x%llx, 0x%llx]\n", (unsigned long long)ranges[i].start,
			       (unsigned long long)ranges[i].last);
		if (ret)
			failures++;
	}

	step("IOMMU_OPTION HUGE_PAGES (get, then set to 0)",
	     "Huge IOPTEs make the IOMMU's TLB go further. A VMM may turn them off per IOAS,\n"
	     "   for example to unmap at 4 KiB granularity later.");
	{
		struct iommu_option cmd = {
			.size = sizeof(cmd),
			.option_id = IOMMU_OPTION_HUGE_PAGES,
			.op = IOMMU_OPTION_OP_GET,
			.object_id = ioas,
		};
		int ret = ioctl(fd, IOMMU_OPTION, &cmd);

		result(ret, "huge pages %s", cmd.val64 ? "allowed" : "off");
		cmd.op = IOMMU_OPTION_OP_SET;
		cmd.val64 = 0;
		ret = ioctl(fd, IOMMU_OPTION, &cmd);
		result(ret, "now off for IOAS %u", ioas);
		if (ret)
			failures++;
	}

	step("IOMMU_OPTION RLIMIT_MODE (get)",
	     "Pinned guest RAM is charged to RLIMIT_MEMLOCK: of the user (0, the default)\n"
	     "   or of the process's mm (1, like VFIO type1). It can change only while the\n"
	     "   file has no objects.");
	{
		struct iommu_option cmd = {
			.size = sizeof(cmd),
			.option_id = IOMMU_OPTION_RLIMIT_MODE,
			.op = IOMMU_OPTION_OP_GET,
		};
		int ret = ioctl(fd, IOMMU_OPTION, &cmd);

		result(ret, "mode %llu (%s)", (unsigned long long)cmd.val64,
		       cmd.val64 ? "per mm" : "per user");
		cmd.op = IOMMU_OPTION_OP_SET;
		cmd.val64 = 1;
		ret = ioctl(fd, IOMMU_OPTION, &cmd);
		expect_errno(ret, EBUSY, "an IOAS exists, so the accounting cannot change now");
	}

	step("A newer VMM talks to this kernel",
	     "Every struct starts with its size. A larger struct is accepted if the bytes the\n"
	     "   kernel does not know are zero, so a new binary runs on an old kernel when it\n"
	     "   does not use new fields. A non-zero unknown byte is refused with E2BIG.");
	{
		struct {
			struct iommu_ioas_alloc cmd;
			uint32_t newer_field;
		} big = { .cmd = { .size = sizeof(big) }, .newer_field = 1 };
		int ret = ioctl(fd, IOMMU_IOAS_ALLOC, &big);

		expect_errno(ret, E2BIG, "the kernel cannot honour a field it does not know");
		big.newer_field = 0;
		ret = ioctl(fd, IOMMU_IOAS_ALLOC, &big);
		ioas2 = big.cmd.out_ioas_id;
		result(ret, "with the unknown field zero: IOAS id %u", ioas2);
		if (ret)
			failures++;
	}

	step("IOMMU_DESTROY",
	     "Any object is destroyed by id. Ids are reused lowest first, like file descriptors.");
	{
		struct iommu_destroy cmd = { .size = sizeof(cmd), .id = ioas2 };
		int ret = ioctl(fd, IOMMU_DESTROY, &cmd);

		result(ret, "IOAS %u destroyed", ioas2);
		if (ret)
			failures++;
		ret = ioctl(fd, IOMMU_DESTROY, &cmd);
		expect_errno(ret, ENOENT, "it is gone");
	}

	step("The device: QEMU's edu, handed to VFIO",
	     "edu is a PCI device with a DMA engine. Like a NIC or an NVMe drive given to a\n"
	     "   guest, it is unbound from any host driver and given to vfio-pci, whose device\n"
	     "   file (/dev/vfio/devices/vfioN) lets user space drive it.");
	if (find_edu(bdf, sizeof(bdf)) || bind_vfio_pci(bdf)) {
		printf("   -> no edu device in this VM (QEMU -device edu): the DMA story is skipped\n");
		goto out;
	}
	if (sysfs_name(bdf, "iommu_group", group, sizeof(group)))
		strcpy(group, "?");
	printf("   -> edu at %s, IOMMU group %s, now driven by vfio-pci\n", bdf, group);

	step("VFIO_DEVICE_BIND_IOMMUFD",
	     "The VMM binds the device to this /dev/iommu: from now on the iommufd decides\n"
	     "   what the device may reach. The device becomes an object of the context.");
	devfd = bind_cdev_to(bdf, fd, &dev_id);
	if (devfd < 0) {
		errno = -devfd;
		result(-1, "-");
		failures++;
		goto out;
	}
	result(0, "device id %u", dev_id);
	show_view("objects", NULL);

	step("IOMMU_IOAS_MAP of guest memory",
	     "The VMM maps guest RAM (here two pages of this process standing for it) at the\n"
	     "   guest-physical addresses the device will use: page 0 at IOVA 0x200000, page 1\n"
	     "   at 0x201000, as two mappings. Nothing is pinned yet: no device is attached.");
	mem = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
		   -1, 0);
	if (mem == MAP_FAILED || map_fixed(fd, ioas, mem, PAGE, GUEST_IOVA) ||
	    map_fixed(fd, ioas, mem + PAGE, PAGE, GUEST_IOVA + PAGE)) {
		result(-1, "-");
		failures++;
		goto out;
	}
	result(0, "2 mappings in IOAS %u", ioas);
	show_view("ioas", (const char *const[]){ "ioas", "area", "pinned", NULL });

	step("VFIO_DEVICE_ATTACH_IOMMUFD_PT",
	     "Attaching the device to the IOAS gives it an IO page table (a HWPT on an IOMMU\n"
	     "   domain of the real IOMMU), filled from the mappings: the pages are pinned now,\n"
	     "   and the device's reserved regions (its MSI window) leave the usable IOVA.");
	pt_id = ioas;
	ret = attach_pt(devfd, &pt_id);
	if (ret)
		errno = -ret;
	result(ret, "attached through HWPT %u", pt_id);
	if (ret) {
		failures++;
		goto out;
	}
	show_view("ioas", NULL);
	show_view("devices", NULL);
	show_summary();
	show_tool();

	step("DMA through the IOMMU: guest RAM -> device -> guest RAM",
	     "edu reads page 0 at IOVA 0x200000 into its buffer, then writes its buffer to\n"
	     "   page 1 at IOVA 0x201000. The IOMMU translates both addresses to the pages above.");
	snprintf((char *)mem, PAGE, "Hello from guest RAM, through the IOMMU");
	memset(mem + PAGE, 0, PAGE);
	if (edu_open(&edu, devfd) || edu_dma(&edu, GUEST_IOVA, EDU_LEN, 0) ||
	    edu_dma(&edu, GUEST_IOVA + PAGE, EDU_LEN, 1)) {
		result(-1, "-");
		failures++;
		goto out;
	}
	if (memcmp(mem, mem + PAGE, EDU_LEN)) {
		printf("   -> UNEXPECTED: page 1 does not hold what page 0 does\n");
		failures++;
	} else {
		printf("   -> page 1 now reads \"%s\"\n", (char *)mem + PAGE);
	}

	step("IOMMU_IOAS_UNMAP, then a DMA to the unmapped address",
	     "Once the VMM unmaps page 1 (a guest balloon, a hot-unplug), the device can no\n"
	     "   longer reach it: the IOMMU blocks the DMA and reports the fault, and the page\n"
	     "   stays untouched. The unmapped page is unpinned at once.");
	faults = iommu_faults();
	ret = unmap(fd, ioas, GUEST_IOVA + PAGE, PAGE, NULL);
	result(ret, "IOVA 0x%lx unmapped", GUEST_IOVA + PAGE);
	memset(mem + PAGE, 0, PAGE);
	if (ret || edu_dma(&edu, GUEST_IOVA + PAGE, EDU_LEN, 1)) {
		failures++;
		goto out;
	}
	if (mem[PAGE] || memcmp(mem + PAGE, mem + PAGE + 1, EDU_LEN - 1)) {
		printf("   -> UNEXPECTED: the DMA reached the unmapped page\n");
		failures++;
	} else {
		printf("   -> the page is still all zeroes: the DMA was stopped\n");
	}
	if (new_faults(faults))
		show_fault();
	show_view("ioas", (const char *const[]){ "area", "pinned", NULL });

	step("close() of the device",
	     "Closing the VFIO device detaches it and unbinds it from the iommufd: its HWPT\n"
	     "   goes, and with no domain left the pages are unpinned.");
	close(devfd);
	devfd = -1;
	show_view("objects", NULL);
	show_view("ioas", (const char *const[]){ "pinned", NULL });

out:
	if (devfd >= 0)
		close(devfd);
	step("close()",
	     "Closing the file destroys what is left (IOAS 1 here), and lets the module go.");
	close(fd);
	if (mem != MAP_FAILED)
		munmap(mem, 2 * PAGE);
	show_summary();
	printf("   -> closed\n\n%s\n", failures ? "Demo: something went wrong." : "Demo: all steps behaved as expected.");
	return failures ? 1 : 0;
}
