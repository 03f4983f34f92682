#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh: build, boot, and show the module at work (`make run`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
export ARCH=${ARCH:-x86_64}
out=$(FLAVOUR=debug "$here/build.sh" | tail -n1)
bin=$out/demo
"$here/build-selftests.sh" "$out" "$bin" "$repo/tools/iommufd"
echo "Booting Linux $(cat "$out/include/config/kernel.release") with the Rust iommufd under QEMU (TCG, $ARCH, $([ "$ARCH" = arm64 ] && echo SMMUv3 || echo VT-d))..."
cd "$bin"
VM_FILES="iommufd_demo iommufd_view" VM_CMD='echo "iommufd.ko loaded: $(grep -c "^iommufd " /proc/modules) module; /dev/iommu: $(ls -l /dev/iommu)"; ./iommufd_demo' \
	"$here/vm.sh" "$out"
