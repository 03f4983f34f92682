/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * QEMU's edu device (PCI 1234:11e8) behind the VM's IOMMU, handed to user space
 * through vfio-pci's device cdev and bound to /dev/iommu: shared by the VFIO
 * selftest and the benchmark (tools/iommufd/iommufd_bench.c).
 */
#ifndef __IOMMUFD_RS_EDU_H
#define __IOMMUFD_RS_EDU_H

#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <linux/vfio.h>
#include "iommufd_rs_utils.h"

#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8

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

#endif
