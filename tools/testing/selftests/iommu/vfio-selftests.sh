#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# vfio-selftests.sh PROGRAM...: run the kernel's own VFIO selftests (built by
# scripts/build-vfio-selftests.sh) in the guest against QEMU's edu device (1234:11e8),
# bound to vfio-pci. Each program runs every IOMMU mode of its library that applies
# (iommufd, iommufd_compat_type1, iommufd_compat_type1v2, vfio_type1_iommu and
# vfio_type1v2_iommu; with CONFIG_IOMMUFD_VFIO_CONTAINER the last two are the module's
# /dev/vfio/vfio too). Prints "@@SUITE ${VFIO_SUITE_PREFIX}vfio/PROGRAM" before each
# program's TAP.
bdf=
for d in /sys/bus/pci/devices/*; do
	if [ "$(cat "$d/vendor")" = 0x1234 ] && [ "$(cat "$d/device")" = 0x11e8 ]; then
		bdf=${d##*/}
		break
	fi
done
if [ -z "$bdf" ]; then
	echo "# vfio-selftests: no edu device"
	exit 1
fi
dev=/sys/bus/pci/devices/$bdf
if [ "$(basename "$(readlink "$dev/driver" 2>/dev/null)")" != vfio-pci ]; then
	[ -e "$dev/driver" ] && echo "$bdf" >"$dev/driver/unbind"
	echo vfio-pci >"$dev/driver_override"
	echo "$bdf" >/sys/bus/pci/drivers_probe
fi
export VFIO_SELFTESTS_BDF=$bdf
for t in "$@"; do
	echo "@@SUITE ${VFIO_SUITE_PREFIX:-}vfio/$t"
	"./$t"
done
