#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# bench.sh: the Rust iommufd against the C one, from the same tree and config.
#
# Builds two kernels of the bench flavour (configs/bench.config: no debugging
# options) from the same Linux 7.2 tree: one with the tree's own C iommufd, one
# with ours. Boots each under identical QEMU settings, alternating C and Rust
# BENCH_ROUNDS times (default 3), and runs tools/iommufd/iommufd_bench in each.
# Prints one line per workload:
#
#   bench NAME: rust=X c=Y unit=U ratio=R
#
# X and Y are medians over every sample, R = X / Y (lower is better for Rust).
# Also writes bench-results.csv and bench-ratios.png (in BENCH_OUT, default the
# current directory). Under TCG only the ratios mean anything.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
export ARCH=${ARCH:-x86_64}
rounds=${BENCH_ROUNDS:-3}
# BENCH_FILTER: only the workloads whose name contains it (default: all).
filter=${BENCH_FILTER:-}
dest=${BENCH_OUT:-$PWD}
log() { printf '[bench] %s\n' "$*" >&2; }

# The chart needs matplotlib; install it like every other dependency. Debian's
# python3-matplotlib belongs to Debian's python3, which may not be the first on PATH.
py=/usr/bin/python3
if ! $py -c 'import matplotlib' 2>/dev/null; then
	log "installing python3-matplotlib"
	SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
		python3-matplotlib >/dev/null
fi

out_rust=$(FLAVOUR=bench IMPL=rust "$here/build.sh" | tail -n1)
out_c=$(FLAVOUR=bench IMPL=c "$here/build.sh" | tail -n1)
bin=$out_rust/bench
"$here/build-selftests.sh" "$out_rust" "$bin" "$repo/tools/iommufd" >&2

samples=$(mktemp "${TMPDIR:-/tmp}/iommufd-bench.XXXXXX")
trap 'rm -f "$samples"' EXIT
for round in $(seq 1 "$rounds"); do
	for impl in c rust; do
		out=$out_rust
		[ "$impl" = c ] && out=$out_c
		log "round $round/$rounds: $impl"
		# 4 GiB: the pinning workloads hold 1 GiB populated at a time, and the
		# guest reserves 128 MiB of huge pages.
		(cd "$bin" && VM_FILES=iommufd_bench VM_CMD="./iommufd_bench 5 $filter" \
			VM_MEM=4G VM_TIMEOUT=3600 VM_LOG="$out/bench-console.log" \
			"$here/vm.sh" "$out") |
			awk -v impl="$impl" '$1 == "result" { print impl, $2, $3, $4 }' >>"$samples"
	done
done
$py "$here/bench_report.py" "$samples" "$dest"
