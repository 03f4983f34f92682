#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build-selftests.sh OUT BIN [SRCDIR]: build the C programs of SRCDIR (default: the
# project's selftests) for the kernel in OUT.
#
# They are built statically against the uAPI headers installed from that kernel's
# tree (make headers), which holds the project's include/uapi/linux/iommu.h, with
# the kselftest harness of the same tree.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
out=${1:?usage: build-selftests.sh OUT BIN}
bin=${2:?usage: build-selftests.sh OUT BIN}
ARCH=${ARCH:-x86_64}
src=$(cat "$out/.iommufd-rs-src")

make -s -C "$src" O="$out" ARCH="$ARCH" LLVM=-19 headers >/dev/null
# The project's uAPI header, linux/iommu.h, which the tests include, installed as the
# kernel installs its own also into a tree that lacks it (the C iommufd's, for make check
# IMPL=c): it is binary identical to the tree's iommufd.h and shares its include guard.
[ -f "$out/usr/include/linux/iommu.h" ] ||
	(cd "$out" && "$src/scripts/headers_install.sh" "$repo/include/uapi/linux/iommu.h" usr/include/linux/iommu.h)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"
target_cc "$ARCH"
mkdir -p "$bin"
srcdir=${3:-$repo/tools/testing/selftests/iommu}
for c in "$srcdir"/*.c; do
	name=$(basename "$c" .c)
	"${TARGET_CC[@]}" -static -O2 -Wall -Werror -pthread -I"$out/usr/include" \
		-I"$src/tools/testing/selftests" -o "$bin/$name" "$c"
done
