// SPDX-License-Identifier: GPL-2.0-only
/*
 * iommufd_demo: what a VMM does with /dev/iommu, step by step, explained.
 *
 * Run by `make run` in the guest. Each step prints the ioctl, what it means for
 * a VMM, and what the kernel answered.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/iommu.h>

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
	uint32_t ioas, ioas2;
	int fd;

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

	step("close()",
	     "Closing the file destroys what is left (IOAS 1 here), and lets the module go.");
	close(fd);
	printf("   -> closed\n\n%s\n", failures ? "Demo: something went wrong." : "Demo: all steps behaved as expected.");
	return failures ? 1 : 0;
}
