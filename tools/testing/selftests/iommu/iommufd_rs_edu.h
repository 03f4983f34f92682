/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * QEMU's edu device (PCI 1234:11e8) behind the VM's IOMMU, handed to user space
 * through vfio-pci's device cdev and bound to /dev/iommu, and its DMA engine:
 * shared by the VFIO selftest, the benchmark (tools/iommufd/iommufd_bench.c) and
 * the demo (tools/iommufd/iommufd_demo.c).
 *
 * edu (QEMU docs/specs/edu.rst): BAR0 registers 0x80 DMA source, 0x88 DMA
 * destination, 0x90 count, 0x98 command (bit 0 start, bit 1 edu->RAM); its
 * buffer is at device address 0x40000, 4096 bytes; DMA addresses are masked
 * to 28 bits; 0x60 raises an interrupt (an MSI once enabled), 0x64 acknowledges it.
 */
#ifndef __IOMMUFD_RS_EDU_H
#define __IOMMUFD_RS_EDU_H

#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/klog.h>
#include <time.h>
#include <linux/vfio.h>
#include "iommufd_rs_utils.h"

#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8
#define EDU_BUF 0x40000UL
/* The size of edu's buffer, so the most one DMA moves: a page of 4 KiB or less. */
#define EDU_LEN 4096U
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_CNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_CMD_START 1
#define EDU_CMD_TO_RAM 2
#define EDU_IRQ_RAISE 0x60
#define EDU_IRQ_ACK 0x64

/* Copies the name src into out, of len bytes, cut to fit. */
static inline void copy_name(char *out, size_t len, const char *src)
{
	size_t n = strnlen(src, len - 1);

	memcpy(out, src, n);
	out[n] = 0;
}

/* The hexadecimal sysfs attribute attr of PCI device bdf (vendor, device); 0 if unreadable. */
static inline unsigned int pci_attr(const char *bdf, const char *attr)
{
	char path[PATH_MAX];
	unsigned int val = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, attr);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%x", &val) != 1)
		val = 0;
	fclose(f);
	return val;
}

/*
 * Finds an edu other than the one at @other (NULL: any); fills its address
 * (0000:00:03.0) and returns 0, or -1.
 */
static inline int find_edu_but(const char *other, char *bdf, size_t len)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	int ret = -1;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (pci_attr(e->d_name, "vendor") == EDU_VENDOR &&
		    pci_attr(e->d_name, "device") == EDU_DEVICE &&
		    (!other || strcmp(other, e->d_name))) {
			copy_name(bdf, len, e->d_name);
			ret = 0;
			break;
		}
	}
	closedir(d);
	return ret;
}

/* Finds edu (the first, if the VM has more). */
static inline int find_edu(char *bdf, size_t len)
{
	return find_edu_but(NULL, bdf, len);
}

/* Binds the device to vfio-pci (unbinding its driver, if any). */
static inline int bind_vfio_pci(const char *bdf)
{
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n > 0) {
		link[n] = 0;
		if (!strcmp(basename(link), "vfio-pci"))
			return 0;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
		if (write_file(path, bdf))
			return -1;
	}
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", bdf);
	if (write_file(path, "vfio-pci"))
		return -1;
	return write_file("/sys/bus/pci/drivers_probe", bdf);
}

/* The name of the device's VFIO cdev (vfio0) or IOMMU group (7) in *out. */
static inline int sysfs_name(const char *bdf, const char *what, char *out, size_t len)
{
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;

	if (!strcmp(what, "vfio-dev")) {
		DIR *d;
		struct dirent *e;

		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
		d = opendir(path);
		if (!d)
			return -1;
		while ((e = readdir(d)))
			if (!strncmp(e->d_name, "vfio", 4)) {
				copy_name(out, len, e->d_name);
				closedir(d);
				return 0;
			}
		closedir(d);
		return -1;
	}
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, what);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return -1;
	link[n] = 0;
	copy_name(out, len, basename(link));
	return 0;
}

static inline int attach_pt(int devfd, uint32_t *pt_id)
{
	struct vfio_device_attach_iommufd_pt at = {
		.argsz = sizeof(at),
		.pt_id = *pt_id,
	};

	if (ioctl(devfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at))
		return -errno;
	*pt_id = at.pt_id;
	return 0;
}

/*
 * Opens the device cdev of @bdf and binds it to the /dev/iommu @iommufd (vfio
 * calls iommufd_device_bind() of the module). Returns the device fd, or -errno.
 */
static inline int bind_cdev_to(const char *bdf, int iommufd, uint32_t *dev_id)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind), .iommufd = iommufd };
	char name[64], path[PATH_MAX];
	int devfd, rc;

	rc = sysfs_name(bdf, "vfio-dev", name, sizeof(name));
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "/dev/vfio/devices/%s", name);
	devfd = open(path, O_RDWR);
	if (devfd < 0)
		return -errno;
	if (ioctl(devfd, VFIO_DEVICE_BIND_IOMMUFD, &bind)) {
		rc = -errno;
		close(devfd);
		return rc;
	}
	*dev_id = bind.out_devid;
	return devfd;
}

/* As bind_cdev_to(), to a new /dev/iommu, whose fd goes to *iommufd. */
static inline int bind_cdev(const char *bdf, int *iommufd, uint32_t *dev_id)
{
	int devfd;

	*iommufd = open("/dev/iommu", O_RDWR);
	if (*iommufd < 0)
		return -errno;
	devfd = bind_cdev_to(bdf, *iommufd, dev_id);
	if (devfd < 0)
		close(*iommufd);
	return devfd;
}

/* A VFIO device: its fd and the offsets of its BAR0 and config regions. */
struct edu {
	int fd;
	uint64_t bar0;
	uint64_t config;
};

static inline int vfio_region_offset(int fd, uint32_t index, uint64_t *offset)
{
	struct vfio_region_info info = { .argsz = sizeof(info), .index = index };

	if (ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, &info))
		return -errno;
	*offset = info.offset;
	return 0;
}

/* Finds the regions and turns on memory decoding and bus mastering. */
static inline int edu_open(struct edu *edu, int fd)
{
	uint16_t cmd;

	edu->fd = fd;
	edu->bar0 = edu->config = 0;
	if (vfio_region_offset(fd, VFIO_PCI_BAR0_REGION_INDEX, &edu->bar0) ||
	    vfio_region_offset(fd, VFIO_PCI_CONFIG_REGION_INDEX, &edu->config))
		return -1;
	if (pread(fd, &cmd, 2, edu->config + 4) != 2)
		return -1;
	cmd |= 0x6;
	if (pwrite(fd, &cmd, 2, edu->config + 4) != 2)
		return -1;
	return 0;
}

static inline int edu_write(struct edu *edu, uint32_t reg, uint32_t val)
{
	return pwrite(edu->fd, &val, 4, edu->bar0 + reg) == 4 ? 0 : -1;
}

static inline int edu_read(struct edu *edu, uint32_t reg, uint32_t *val)
{
	return pread(edu->fd, val, 4, edu->bar0 + reg) == 4 ? 0 : -1;
}

/*
 * Runs one DMA of len bytes between IOVA iova and the edu buffer: into RAM if
 * to_ram. Returns 0 once the engine is done, -1 if it never finished.
 */
static inline int edu_dma(struct edu *edu, uint64_t iova, uint32_t len, int to_ram)
{
	struct timespec t = { 0, 10 * 1000 * 1000 };
	uint32_t cmd;
	int i;

	if (edu_write(edu, EDU_DMA_SRC, to_ram ? EDU_BUF : iova) ||
	    edu_write(edu, EDU_DMA_DST, to_ram ? iova : EDU_BUF) ||
	    edu_write(edu, EDU_DMA_CNT, len) ||
	    edu_write(edu, EDU_DMA_CMD, EDU_CMD_START | (to_ram ? EDU_CMD_TO_RAM : 0)))
		return -1;
	for (i = 0; i < 1000; i++) {
		if (edu_read(edu, EDU_DMA_CMD, &cmd))
			return -1;
		if (!(cmd & EDU_CMD_START))
			return 0;
		nanosleep(&t, NULL);
	}
	return -1;
}

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

/* What VT-d, AMD-Vi and SMMUv3 print for a DMA they blocked. */
static const char *const fault_lines[] = {
	"DMAR: [DMA ", "IO_PAGE_FAULT", "event: F_TRANSLATION",
};

/* How many IOMMU faults the kernel log holds, or -1. */
static inline int iommu_faults(void)
{
	int len = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	char *buf, *p;
	int n, count = 0;
	size_t i;

	if (len <= 0)
		return -1;
	buf = malloc(len + 1);
	if (!buf)
		return -1;
	n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, len);
	if (n < 0) {
		free(buf);
		return -1;
	}
	buf[n] = 0;
	for (i = 0; i < ARRAY_SIZE(fault_lines); i++)
		for (p = buf; (p = strstr(p, fault_lines[i])); p++)
			count++;
	free(buf);
	return count;
}

/*
 * Whether the kernel log holds more than @before IOMMU faults within 2 s: the
 * IOMMU driver reports a blocked DMA from its interrupt (SMMUv3: a threaded
 * handler reading the event queue), which may come after the DMA is done.
 */
static inline bool new_faults(int before)
{
	struct timespec t = { 0, 10 * 1000 * 1000 };
	int i;

	for (i = 0; i < 200; i++) {
		if (iommu_faults() > before)
			return true;
		nanosleep(&t, NULL);
	}
	return false;
}

#endif
