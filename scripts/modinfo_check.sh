#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# modinfo_check.sh OUT: iommufd.ko built in OUT carries what C's module info has, so that
# module loading behaves the same: with CONFIG_IOMMUFD_VFIO_CONTAINER the aliases of
# /dev/vfio/vfio (its misc minor and its devname, C's main.c), which load the module
# when a VFIO user opens the container; and the namespaces it imports.
set -euo pipefail
out=${1:?usage: modinfo_check.sh OUT}
ko=$out/drivers/iommu/iommufd/iommufd.ko
[ -f "$ko" ] || { echo "no $ko"; exit 1; }
want=()
grep -qx 'CONFIG_IOMMUFD_VFIO_CONTAINER=y' "$out/.config" && want+=("alias=char-major-10-196" "alias=devname:vfio/vfio")
want+=("import_ns=IOMMUFD" "import_ns=IOMMUFD_INTERNAL" "import_ns=DMA_BUF" "license=GPL")
have=$(for f in alias import_ns license; do modinfo -F "$f" "$ko" | sed "s/^/$f=/"; done)
bad=0
for w in "${want[@]}"; do
	grep -qxF -- "$w" <<<"$have" || { echo "missing: $w"; bad=1; }
done
echo "$have"
exit $bad
