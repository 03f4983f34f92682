#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# lint.sh OUT clippy|rustfmt: the project's Rust must be lint-clean and rustfmt'ed.
#
# clippy:  recompiles the module's crate (iommufd.ko) with the kernel's Rust lints and
#          clippy (CLIPPY=1), and relinks the module; any warning or error fails. The
#          built-in iova_bitmap is
#          linted whenever it is compiled (build.sh always passes CLIPPY=1); it is not
#          recompiled here, which would force a relink of vmlinux.
# rustfmt: every .rs file of the project must be formatted with the kernel's
#          .rustfmt.toml.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
out=${1:?usage: lint.sh OUT clippy|rustfmt}
src=$(cat "$out/.iommufd-rs-src")
export PATH="$HOME/.cargo/bin:$PATH"
case "${2:?}" in
clippy)
	touch "$src"/drivers/iommu/iommufd/iommufd_rs.rs
	log=$(make -C "$src" O="$out" ARCH="${ARCH:-x86_64}" LLVM=-19 CLIPPY=1 -j"$(nproc)" \
		drivers/iommu/iommufd/ 2>&1) || { echo "$log"; exit 1; }
	if echo "$log" | grep -E -A12 '^(warning|error)'; then
		exit 1
	fi
	# Relink the module from the object just rebuilt, so that the next build (make vm
	# after make check) finds nothing to do.
	make -s -C "$src" O="$out" ARCH="${ARCH:-x86_64}" LLVM=-19 CLIPPY=1 -j"$(nproc)" modules >/dev/null
	echo "$log" | grep -c CLIPPY
	;;
rustfmt)
	cd "$repo"
	bad=0
	for f in $(git ls-files '*.rs'); do
		# Through stdin, so that rustfmt does not follow `mod` declarations into files
		# of the kernel crate the project does not carry (rust/kernel/alloc/allocator.rs).
		if ! rustfmt --edition 2021 --config-path "$src/.rustfmt.toml" --emit stdout <"$f" 2>/dev/null |
			cmp -s - "$f"; then
			echo "not rustfmt'ed: $f"
			bad=1
		fi
	done
	exit $bad
	;;
esac
