#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# overlay.sh REPO TREE: put the project's files into a Linux 7.2 tree.
#
# drivers/iommu/iommufd/ is replaced whole (the C iommufd is never built);
# rust/ and include/ files are added or replace their namesakes; a few one-line
# hooks are added to kernel files that list their parts. Files whose content did
# not change keep their timestamps, so an incremental build stays incremental.
set -euo pipefail
repo=$1
tree=$2

# Files of the kernel crate that the project changes (rather than adds) replace
# the tree's; each must still be the version the change was made on.
pristine_base="$tree/.iommufd-rs-upstream"
mkdir -p "$pristine_base"
while read -r sum path; do
	[ -n "$sum" ] || continue
	# Keep the tree's original once, to check it and to restore it.
	[ -f "$pristine_base/$path" ] || { mkdir -p "$(dirname "$pristine_base/$path")"; cp "$tree/$path" "$pristine_base/$path"; }
	have=$(sha256sum "$pristine_base/$path" | cut -d' ' -f1)
	if [ "$have" != "$sum" ]; then
		echo "overlay: $path in this tree differs from the 7.2 version the project changes;" >&2
		echo "overlay: port rust/${path#rust/} to it (see Documentation/iommufd-rs/build.rst)" >&2
		exit 1
	fi
done <"$repo/rust/upstream.sha256"

rsync -rc --delete "$repo/drivers/iommu/iommufd/" "$tree/drivers/iommu/iommufd/"
rsync -rc "$repo/include/" "$tree/include/"
rsync -rc --exclude='*.md' --exclude=upstream.sha256 "$repo/rust/" "$tree/rust/"

# add_line FILE LINE: append LINE to FILE once.
add_line() {
	grep -qxF "$2" "$tree/$1" || printf '%s\n' "$2" >>"$tree/$1"
}
# The project's uAPI header, for Rust: kernel::uapi holds it, while
# kernel::bindings holds the tree's own iommufd.h; the module's ABI check
# compares the two at compile time.
add_line rust/uapi/uapi_helper.h '#include <uapi/linux/iommu.h>'
# VFIO's type1 container ABI, which /dev/iommu also answers (vfio_compat.rs).
add_line rust/uapi/uapi_helper.h '#include <uapi/linux/vfio.h>'
# The test ABI (IOMMU_TEST_CMD), which lives beside the module as in C.
add_line rust/uapi/uapi_helper.h '#include "../../drivers/iommu/iommufd/iommufd_test.h"'
# C helpers for inline functions the kernel crate lacks.
add_line rust/helpers/helpers.c '#include "gup.c"'
add_line rust/helpers/helpers.c '#include "pfnmap.c"'
add_line rust/helpers/helpers.c '#include "fault_inject.c"'
add_line rust/helpers/helpers.c '#include "msi.c"'
add_line rust/helpers/helpers.c '#include "iopf.c"'
# New kernel crate modules.
add_after() { # FILE ANCHOR LINE: insert LINE after ANCHOR, once.
	grep -qxF "$3" "$tree/$1" || sed -i "s|^$2\$|&\n$3|" "$tree/$1"
	grep -qxF "$3" "$tree/$1" || { echo "overlay: cannot hook $1" >&2; exit 1; }
}
add_after rust/kernel/lib.rs 'pub mod build_assert;' 'pub mod capability;'
add_after rust/kernel/lib.rs 'pub mod capability;' 'pub mod fault_inject;'
add_after rust/kernel/mm.rs 'pub mod virt;' 'pub mod pin;'
add_after rust/kernel/mm.rs 'pub mod pin;' 'pub mod pfnmap;'
add_after rust/kernel/fs.rs 'pub mod file;' 'pub mod anon_inode;'
# Headers the new kernel crate modules bind.
add_line rust/bindings/bindings_helper.h '#include <linux/anon_inodes.h>'
add_line rust/bindings/bindings_helper.h '#include <linux/iommu.h>'
# The generic IO page table formats (the mock IOMMU's domains use the AMDv1 mock format).
add_line rust/bindings/bindings_helper.h '#include <linux/generic_pt/iommu.h>'
# The iommu core's interface to iommufd and to its test driver (attach handles, mock
# devices), which it keeps out of include/.
add_line rust/bindings/bindings_helper.h '#include "../../drivers/iommu/iommu-priv.h"'
add_line rust/bindings/bindings_helper.h '#include "../../drivers/iommu/iommu-pages.h"'
# The structures IOMMU drivers embed (struct iommufd_viommu) and their ops.
add_line rust/bindings/bindings_helper.h '#include <linux/iommufd.h>'
add_line rust/bindings/bindings_helper.h '#include "../../drivers/iommu/iommufd/driver_core.h"'
add_line rust/bindings/bindings_helper.h '#include <linux/fault-inject.h>'
# PCI functions' PASID control and PRI (kernel::iommu::domain, IOMMU_GET_HW_INFO).
add_line rust/bindings/bindings_helper.h '#include <linux/pci-ats.h>'
# Constants bindgen cannot evaluate on every architecture (arm64's HPAGE_SIZE).
add_line rust/bindings/bindings_helper.h '#include "iommufd_consts.h"'
add_after rust/kernel/iommu/mod.rs 'pub mod pgtable;' 'pub mod domain;'
add_after rust/kernel/iommu/mod.rs 'pub mod domain;' 'pub mod group;'
# Errnos the kernel crate lacks and the uAPI returns: EOPNOTSUPP (unknown flags) and
# EADDRINUSE (IOVA both allowed and reserved).
add_after rust/kernel/error.rs '    declare_err!(ENOTSUPP, "Operation is not supported.");' \
	'    declare_err!(EOPNOTSUPP, "Operation not supported.");'
add_after rust/kernel/error.rs '    declare_err!(EOPNOTSUPP, "Operation not supported.");' \
	'    declare_err!(EADDRINUSE, "Address already in use.");'
# Fixes to the kernel outside iommufd that the module's behaviour depends on, as patch
# files (git format-patch) in patches/, applied in order with patch(1). Each file a patch
# touches is rebuilt from the tree's original (kept in $pristine_base the first time) with
# every patch applied, and replaced only if that differs, so that the overlay can run
# again on the same tree, also after a patch changed, and incremental builds stay so.
shopt -s nullglob
patches=("$repo"/patches/*.patch)
if [ ${#patches[@]} -gt 0 ]; then
	stage=$(mktemp -d "${TMPDIR:-/tmp}/iommufd-overlay.XXXXXX")
	files=$(sed -n 's|^+++ b/||p' "${patches[@]}" | sort -u)
	for f in $files; do
		[ -f "$pristine_base/$f" ] || { mkdir -p "$(dirname "$pristine_base/$f")"; cp "$tree/$f" "$pristine_base/$f"; }
		mkdir -p "$(dirname "$stage/$f")"
		cp "$pristine_base/$f" "$stage/$f"
	done
	for p in "${patches[@]}"; do
		patch -d "$stage" -p1 -s -f --no-backup-if-mismatch <"$p" ||
			{ echo "overlay: $(basename "$p") does not apply" >&2; rm -rf "$stage"; exit 1; }
	done
	for f in $files; do
		cmp -s "$stage/$f" "$tree/$f" || cp "$stage/$f" "$tree/$f"
	done
	rm -rf "$stage"
fi
