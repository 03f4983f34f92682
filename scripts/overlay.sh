#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# overlay.sh REPO TREE PRISTINE: put the project's files into TREE, a copy of the Linux
# 7.2 tree PRISTINE.
#
# drivers/iommu/iommufd/ is replaced whole (the C iommufd is never built); the files the
# project adds under rust/ and include/ are copied in. Every change to a file of the
# kernel (the kernel crate's modules, bindings and helper lists, and the fixes outside
# iommufd the module's behaviour depends on) is a patch in patches/ (git format-patch),
# applied in order with patch(1) without fuzz, so that a tree whose context differs
# stops the build rather than taking the change in the wrong place. Files whose content
# did not change keep their timestamps, so an incremental build stays incremental.
set -euo pipefail
repo=$1
tree=$2
pristine=$3

rsync -rc --delete "$repo/drivers/iommu/iommufd/" "$tree/drivers/iommu/iommufd/"
rsync -rc "$repo/include/" "$tree/include/"
rsync -rc --exclude='*.md' "$repo/rust/" "$tree/rust/"

# Each file a patch touches is rebuilt from the pristine tree with every patch applied,
# and replaced only if that differs, so that the overlay can run again on the same tree,
# also after a patch changed.
shopt -s nullglob
patches=("$repo"/patches/*.patch)
[ ${#patches[@]} -gt 0 ] || exit 0
stage=$(mktemp -d "${TMPDIR:-/tmp}/iommufd-overlay.XXXXXX")
trap 'rm -rf "$stage"' EXIT
files=$(sed -n 's|^+++ b/||p' "${patches[@]}" | sort -u)
for f in $files; do
	[ -f "$pristine/$f" ] || { echo "overlay: $f is not in $pristine" >&2; exit 1; }
	mkdir -p "$(dirname "$stage/$f")"
	cp "$pristine/$f" "$stage/$f"
done
for p in "${patches[@]}"; do
	patch -d "$stage" -p1 -s -F0 -f --no-backup-if-mismatch <"$p" || {
		echo "overlay: $(basename "$p") does not apply to $pristine" >&2
		echo "overlay: port it (see Documentation/iommufd-rs/build.rst)" >&2
		exit 1
	}
done
for f in $files; do
	cmp -s "$stage/$f" "$tree/$f" || cp "$stage/$f" "$tree/$f"
done
