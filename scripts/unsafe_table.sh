#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# unsafe_table.sh REPO: counts, per part of the module, the code lines that say `unsafe`
# and the uses of `bindings::` (comment lines left out), prints the table, and fails if a
# layer (device, system, IO page table: the folder and its root file, with their ioctl
# handlers) has more than scripts/layer-unsafe.allow lets it. The goal is none: the
# allowance only ever goes down, to 0, as the layers' raw calls move into the kernel
# crate's abstractions (rust/kernel) or to the module's C-ABI edge (the in-kernel API,
# the driver structures and driver core, iova_bitmap, the mock IOMMU driver).
set -euo pipefail
repo=$1
mod=$repo/drivers/iommu/iommufd
allow=$repo/scripts/layer-unsafe.allow

count() { # PATTERN FILES...: matching code lines (not comments) in FILES
	local pat=$1
	shift
	[ $# -gt 0 ] || { echo 0; return; }
	grep -hE "$pat" "$@" | grep -cvE '^\s*//' || true
}
files() { # PARTS...: the .rs files of each part (a folder and/or its root file)
	local p
	for p in "$@"; do
		[ -f "$mod/$p.rs" ] && echo "$mod/$p.rs"
		[ -d "$mod/$p" ] && find "$mod/$p" -name '*.rs'
		[ -f "$mod/$p" ] && echo "$mod/$p"
	done | sort
}
row() { # KIND NAME PARTS...
	local kind=$1 name=$2
	shift 2
	local f
	mapfile -t f < <(files "$@")
	printf '%-8s %-24s %5d %5d %6d\n' "$kind" "$name" "${#f[@]}" \
		"$(count '\bunsafe\b' "${f[@]}")" "$(count 'bindings::' "${f[@]}")"
}

printf '%-8s %-24s %5s %5s %6s\n' kind part files unsafe bindings
{
	row layer device device
	row layer system system
	row layer pagetable pagetable
	row edge kapi kapi kapi.rs
	row edge driver driver
	row edge driver-core iommufd_driver_rs.rs
	row edge iova_bitmap iova_bitmap_rs.rs
	row edge selftest selftest
	row edge trace trace.rs
	row module ctx,object,ucmd,... ctx.rs object.rs ucmd.rs uapi uapi.rs mmap.rs \
		vfio_compat.rs option.rs iommufd_rs.rs
} | tee "${TMPDIR:-/tmp}/unsafe-table.$$"
krs=$(find "$repo/rust/kernel" -name '*.rs' | sort)
# shellcheck disable=SC2086
printf '%-8s %-24s %5d %5d %6d\n' rust rust/kernel "$(echo $krs | wc -w)" \
	"$(count '\bunsafe\b' $krs)" "$(count 'bindings::' $krs)"

bad=0
while read -r kind name _ u b; do
	[ "$kind" = layer ] || continue
	read -r au ab < <(awk -v n="$name" '$1 == n { print $2, $3 }' "$allow")
	if [ "$u" -gt "${au:-0}" ] || [ "$b" -gt "${ab:-0}" ]; then
		echo "layer $name: $u unsafe, $b bindings:: (allowed: ${au:-0}, ${ab:-0})"
		bad=1
	elif [ "$u" -lt "${au:-0}" ] || [ "$b" -lt "${ab:-0}" ]; then
		echo "layer $name: down to $u unsafe, $b bindings::; lower its line in $allow"
		bad=1
	fi
done <"${TMPDIR:-/tmp}/unsafe-table.$$"
rm -f "${TMPDIR:-/tmp}/unsafe-table.$$"
exit $bad
