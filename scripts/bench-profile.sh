#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# bench-profile.sh FILTER [TOP]: where the time of a `make bench` workload goes, in the
# Rust and in the C iommufd.
#
# Builds both kernels of the bench flavour with ftrace's function profiler
# (PROFILE=1: configs/profile.config), boots each, runs the workloads whose name
# contains FILTER once with the profiler on, and prints for each kernel the TOP
# (default 40) functions by total time, with their calls: Function, Hit, Time (us,
# children included), summed over the CPUs. Rust functions are not instrumented
# (no fentry), so the Rust module shows through the C functions it calls (the
# allocator, locks, pinning, the IOMMU core); comparing their hit counts per
# operation between the two kernels is what points at a cost.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
export ARCH=${ARCH:-x86_64}
filter=${1:?usage: bench-profile.sh FILTER [TOP]}
top=${2:-40}
log() { printf '[bench-profile] %s\n' "$*" >&2; }

# BENCH_IMPLS: the kernels to profile (default: both).
impls=${BENCH_IMPLS:-rust c}
out_rust=$(FLAVOUR=bench PROFILE=1 IMPL=rust "$here/build.sh" | tail -n1)
case " $impls " in *" c "*) out_c=$(FLAVOUR=bench PROFILE=1 IMPL=c "$here/build.sh" | tail -n1) ;; esac
bin=$out_rust/bench
"$here/build-selftests.sh" "$out_rust" "$bin" "$repo/tools/iommufd" >&2

# In the guest: a warm-up run unprofiled, then one run profiled; the per-CPU tables
# are printed with a "cpu" header line each.
cmd="T=/sys/kernel/debug/tracing
./iommufd_bench 0 $filter
echo 1 >\$T/function_profile_enabled
./iommufd_bench 1 $filter
echo 0 >\$T/function_profile_enabled
for f in \$T/trace_stat/function*; do echo cpu; cat \$f; done"
for impl in $impls; do
	out=$out_rust
	[ "$impl" = c ] && out=$out_c
	log "$impl"
	echo "== $impl"
	(cd "$bin" && VM_FILES=iommufd_bench VM_CMD="$cmd" VM_MEM=4G VM_TIMEOUT=3600 \
		VM_LOG="$out/bench-profile-console.log" "$here/vm.sh" "$out") |
		awk -v top="$top" '
		/^result / { print; next }
		$1 == "cpu" || $1 == "Function" || $1 ~ /^-/ { next }
		NF >= 4 && $2 ~ /^[0-9]+$/ {
			hits[$1] += $2; t = $3; us[$1] += t
		}
		END {
			n = 0
			for (f in us) order[n++] = f
			# Sort by time, descending (insertion sort: a few thousand entries).
			for (i = 1; i < n; i++) {
				k = order[i]
				for (j = i - 1; j >= 0 && us[order[j]] < us[k]; j--)
					order[j + 1] = order[j]
				order[j + 1] = k
			}
			printf "%-48s %12s %14s\n", "function", "hits", "time_us"
			for (i = 0; i < n && i < top; i++)
				printf "%-48s %12d %14.1f\n", order[i], hits[order[i]], us[order[i]]
		}'
done
