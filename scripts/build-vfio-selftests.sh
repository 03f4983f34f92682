#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build-vfio-selftests.sh OUT BIN: build the kernel's own VFIO selftests
# (tools/testing/selftests/vfio of the tree built in OUT), unmodified, statically, against
# that kernel's installed uAPI headers, into BIN. Every program of the tree's Makefile is
# built with the library lib/*.c (and the x86 DMA engine drivers it lists).
#
# 7.2.13's library calls calloc_assert() without defining it; when the tree's library
# headers lack it, tools/testing/selftests/iommu/vfio_calloc_assert.h is force-included
# (-include), so the sources stay as they are.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
out=${1:?usage: build-vfio-selftests.sh OUT BIN}
bin=${2:?usage: build-vfio-selftests.sh OUT BIN}
ARCH=${ARCH:-x86_64}
src=$(cat "$out/.iommufd-rs-src")
vdir=$src/tools/testing/selftests/vfio
[ -d "$vdir" ] || { echo "no $vdir"; exit 1; }
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"
target_cc "$ARCH"
mkdir -p "$bin"
lib=(iommu.c iova_allocator.c libvfio.c sysfs.c vfio_pci_device.c vfio_pci_driver.c)
[ "$ARCH" = x86_64 ] && lib+=(drivers/ioat/ioat.c drivers/dsa/dsa.c)
extra=()
grep -rqs 'calloc_assert' "$vdir/lib/include" ||
	extra=(-include "$repo/tools/testing/selftests/iommu/vfio_calloc_assert.h")
progs=$(sed -n 's/^TEST_GEN_PROGS += //p' "$vdir/Makefile")
objs=$(mktemp -d "${TMPDIR:-/tmp}/vfio-st.XXXXXX")
trap 'rm -rf "$objs"' EXIT
# As the selftests' lib.mk: the tools' headers first, the kernel's uAPI as system headers.
cflags=(-static -O2 -Wall -pthread -D_GNU_SOURCE -I"$src/tools/include" -I"$vdir/lib/include"
	-I"$src/tools/testing/selftests" -isystem "$out/usr/include" "${extra[@]}")
for c in "${lib[@]}"; do
	o=$objs/$(echo "$c" | tr / _).o
	"${TARGET_CC[@]}" "${cflags[@]}" -c "$vdir/lib/$c" -o "$o"
done
for p in $progs; do
	"${TARGET_CC[@]}" "${cflags[@]}" -o "$bin/$p" "$vdir/$p.c" "$objs"/*.o -luuid
done
ls "$bin"
