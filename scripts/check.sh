#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# check.sh: build the debug kernel, boot it, run every suite, judge the kernel log.
#
# Suites (each printed as TAP):
#   host       checks run on the build machine (uAPI coverage, the test ABI header
#              against 7.2's, clippy and rustfmt, the log scanner itself)
#   selftests  tools/testing/selftests/iommu of this project, in the guest
#   upstream   the kernel's own iommufd selftest, unmodified: the cases listed in
#              tools/testing/selftests/iommu/upstream-iommufd.pass; and its
#              iommufd_fail_nth: the cases in upstream-iommufd_fail_nth.pass
#   vfio       the kernel's own VFIO selftests, unmodified, against edu in every
#              IOMMU mode of their library (vfio-selftests.list, vfio-selftests.skip)
#   kunit      the module's KUnit suites, run when it loads
#   kernel-log the guest finished, and its kernel log holds no BUG, WARNING, KASAN,
#              lockdep, kmemleak, oops or hang report
#   amd-vi     x86_64: the VFIO DMA test (iommufd_rs_vfio) and the kernel's VFIO selftests
#              again in a second VM behind AMD-Vi, with its own kernel-log suite
#              (kernel-log-amd)
# The guest is the architecture's: x86_64 (q35, VT-d) or arm64 (virt, SMMUv3 and
# GICv3 ITS), where iommufd_rs_vfio drives edu through SMMUv3.
# The last line is "N passed, N failed, N skipped (ARCH)"; the exit status is 1 if any failed.
#
# IMPL=c runs the same suites against the tree's own C iommufd, built from an untouched
# copy of the same tree with the same debug config: every test of C-compatible behaviour
# must pass there too. What does not apply to C is skipped, not failed: the clippy check
# and the KUnit suites (C's iommufd has neither), and the cases of our selftests that
# c-impl.skip lists with why (features C lacks, a C bug that hangs). Kernel-log reports
# that c-impl.known lists (C's own bugs, with their trace) are printed as C's and not
# counted.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
export ARCH=${ARCH:-x86_64}
export FLAVOUR=debug
export IMPL=${IMPL:-rust}
case "$IMPL" in rust | c) ;; *) echo "check: IMPL must be rust or c"; echo "0 passed, 1 failed"; exit 1 ;; esac
sel=$repo/tools/testing/selftests/iommu

out=$("$here/build.sh" | tail -n1) || { echo "check: the build failed"; echo "0 passed, 1 failed"; exit 1; }
[ -d "$out" ] || { echo "check: the build failed"; echo "0 passed, 1 failed"; exit 1; }
src=$(cat "$out/.iommufd-rs-src" 2>/dev/null || true)
pristine=$(cat "$out/.iommufd-rs-pristine" 2>/dev/null || true)

results=$(mktemp -d "${TMPDIR:-/tmp}/iommufd-check.XXXXXX")
trap 'rm -rf "$results"' EXIT

# --- Build the selftests against the kernel's installed uAPI headers.
bin=$out/selftests
"$here/build-selftests.sh" "$out" "$bin" >&2 || { echo "check: selftests did not build"; echo "0 passed, 1 failed"; exit 1; }
# The user tool, which iommufd_rs_view runs to check its report against the live view.
"$here/build-selftests.sh" "$out" "$bin/tools" "$repo/tools/iommufd" >&2 &&
	cp "$bin/tools/iommufd_view" "$bin/" ||
	{ echo "check: tools/iommufd did not build"; echo "0 passed, 1 failed"; exit 1; }
# The kernel's own VFIO selftests, unmodified, run against edu in every IOMMU mode of
# their library: vfio-selftests.list names the programs, vfio-selftests.skip the cases
# that fail on C as on ours, with why.
"$here/build-vfio-selftests.sh" "$out" "$bin" >&2 ||
	{ echo "check: the VFIO selftests did not build"; echo "0 passed, 1 failed"; exit 1; }
vprogs=$(grep -v '^#' "$sel/vfio-selftests.list" | tr '\n' ' ')
cp "$sel/vfio-selftests.sh" "$bin/"
# The kernel's own iommufd selftest, unmodified, from the same tree. It includes the test
# ABI from drivers/iommu/iommufd/iommufd_test.h, which is the project's there.
upbin=$out/upstream
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"
target_cc "$ARCH"
mkdir -p "$upbin"
"${TARGET_CC[@]}" -static -O2 -pthread -D_GNU_SOURCE -I"$out/usr/include" -I"$src/tools/testing/selftests" \
	-o "$upbin/iommufd" "$src/tools/testing/selftests/iommu/iommufd.c" -lcap >&2 ||
	{ echo "check: the upstream iommufd selftest did not build"; echo "0 passed, 1 failed"; exit 1; }
# With pages larger than 4 KiB (arm64, PAGES=64k), the listed cases that assume
# 4 KiB pages, and fail for the tree's C iommufd too, are left out: upstream-iommufd.PAGES.skip
# lists them and why.
PAGES=${PAGES:-4k}
upskip=$repo/tools/testing/selftests/iommu/upstream-iommufd.$PAGES.skip
[ -f "$upskip" ] || upskip=/dev/null
uplist=$(grep -v '^#' "$repo/tools/testing/selftests/iommu/upstream-iommufd.pass" |
	grep -vxF -f <(grep -v '^#' "$upskip") | sed 's/^/-r /' | tr '\n' ' ')
upleft=$(grep -cv '^#' "$upskip" || true)
# And its allocation-failure sweep, iommufd_fail_nth: the cases listed in its own file,
# with the harness's 30 s per case raised (harness_timeout.h says why).
"${TARGET_CC[@]}" -static -O2 -pthread -D_GNU_SOURCE -I"$out/usr/include" -I"$src/tools/testing/selftests" \
	-include "$sel/harness_timeout.h" -o "$upbin/iommufd_fail_nth" "$src/tools/testing/selftests/iommu/iommufd_fail_nth.c" -lcap >&2 ||
	{ echo "check: the upstream iommufd_fail_nth selftest did not build"; echo "0 passed, 1 failed"; exit 1; }
fnlist=$(grep -v '^#' "$repo/tools/testing/selftests/iommu/upstream-iommufd_fail_nth.pass" | sed 's/^/-r /' | tr '\n' ' ')

# --- host suite.
host=$results/host.tap
{
	n=0
	t() { # NAME COMMAND...: one TAP line
		n=$((n + 1))
		if "${@:2}" >"$results/host-$n.log" 2>&1; then
			echo "ok $n $1"
		else
			echo "not ok $n $1"
			sed 's/^/# /' "$results/host-$n.log"
		fi
	}
	t uapi-coverage python3 "$here/uapi_coverage.py" "$src/include/uapi/linux/iommufd.h" \
		"$repo/drivers/iommu/iommufd/uapi/abi_check.rs"
	t test-abi-matches-7.2 python3 "$here/header_abi_check.py" \
		"$repo/drivers/iommu/iommufd/iommufd_test.h" \
		"$pristine/drivers/iommu/iommufd/iommufd_test.h" "$out/usr/include"
	if [ "$IMPL" = c ]; then
		n=$((n + 1)); echo "ok $n rust-clippy-clean # SKIP the C iommufd has no Rust to lint"
	else
		t rust-clippy-clean "$here/lint.sh" "$out" clippy
	fi
	t rust-rustfmt-clean "$here/lint.sh" "$out" rustfmt
	t module-info-as-c "$here/modinfo_check.sh" "$out"
	# The changes to kernel files (patches/) pass the tree's checkpatch.pl.
	t patches-checkpatch-clean bash -c 'for p in "$1"/patches/*.patch; do
		o=$(cd "$2" && perl scripts/checkpatch.pl --no-tree -q "$p" 2>&1)
		[ -z "$o" ] || { echo "$p: $o"; exit 1; }; done' _ "$repo" "$pristine"
	# Every function the module exports to C is #[export]: the compiler checks it against
	# its declaration in the C headers (the one #[no_mangle] left is under a cfg_attr, for
	# configurations whose header declares no such function).
	t exports-checked-against-c-headers bash -c \
		"! grep -rn '^#\[no_mangle\]' '$repo/drivers/iommu/iommufd' --include='*.rs'"
	# Per part of the module, the lines that say `unsafe` and the uses of `bindings::`; a
	# layer may have no more than scripts/layer-unsafe.allow says (going to 0).
	t layer-unsafe-at-most-allowed "$here/unsafe_table.sh" "$repo"
	t make-vm-passes-command-verbatim "$here/vm_verbatim_check.sh"
	t make-shell-answers "$here/shell_check.sh"
	t logscan-flags-splats "$here/logscan_selftest.sh" flags
	t logscan-passes-clean-log "$here/logscan_selftest.sh" clean
	echo "1..$n"
} >"$host"

# --- guest suites: selftests, the listed upstream cases, then the KUnit results.
cp "$upbin/iommufd" "$bin/upstream-iommufd"
cp "$upbin/iommufd_fail_nth" "$bin/upstream-iommufd_fail_nth"
tests=$(cd "$bin" && ls | grep '^iommufd_rs_')
# On C, the cases c-impl.skip lists are left out of each program's run (-T NAME) and
# reported as skipped with their reason.
excl() { # PROGRAM: the harness's -T options for it
	[ "$IMPL" = c ] || return 0
	grep -v '^#' "$sel/c-impl.skip" | awk -v p="$1" '$1 == p { printf "-T %s ", $2 }'
}
# The allocation-failure sweep first, on a fresh guest: its longest case takes 20 to 40 s
# under TCG (C's as long), and runs slower late in a long guest.
cmd='echo "@@SUITE upstream/iommufd_fail_nth"
./upstream-iommufd_fail_nth '"$fnlist"'
'
for t in $tests; do
	cmd="$cmd"'echo "@@SUITE selftests/'"$t"'"; ./'"$t $(excl "$t")"'
'
done
cmd="$cmd"'
echo "@@SUITE upstream/iommufd"
./upstream-iommufd '"$uplist"'
./upstream-iommufd >all.out 2>&1
echo "# upstream iommufd, whole program (not counted): $(grep -c "^ok" all.out) of $(grep -cE "^(not )?ok" all.out) pass"
echo "# left out with '"$PAGES"' pages (they fail for C as well): '"$upleft"' cases"
[ -n "'"$vprogs"'" ] && ./vfio-selftests.sh '"$vprogs"'
echo "@@SUITE kunit"
for d in /sys/kernel/debug/kunit/*/; do [ -f "$d/results" ] && cat "$d/results"; done
echo "@@SUITE end"'
guest=$results/guest.out
# With larger pages the upstream program maps larger buffers (and its 4 KiB-minded cases
# run into the harness's 30 s timeout in its uncounted whole run): more time.
timeout=1200
[ "$PAGES" = 4k ] || timeout=2400
vmlog=$out/check-console.log
# A second edu in each VM: the peer that iommufd_rs_vfio's peer-to-peer DMA writes to.
export VM_QEMU_ARGS="-device edu"
(cd "$bin" && VM_FILES="$tests iommufd_view upstream-iommufd upstream-iommufd_fail_nth ${vprogs:+vfio-selftests.sh $vprogs}" VM_CMD="$cmd" VM_KMEMLEAK=1 VM_LOG="$vmlog" \
	VM_TIMEOUT=${CHECK_TIMEOUT:-$timeout} "$here/vm.sh" "$out") >"$guest"
vmrc=$?

# --- x86_64: the VFIO DMA test again, behind AMD-Vi (a second VM).
amdvmlog=$out/check-console-amd.log
amdtap=$results/amd.tap
if [ "$ARCH" = x86_64 ]; then
	amdcmd='echo "@@SUITE amd-vi/iommufd_rs_vfio"; ./iommufd_rs_vfio
VFIO_SUITE_PREFIX=amd-vi/ ./vfio-selftests.sh '"$vprogs"'
echo "@@SUITE end"'
	(cd "$bin" && VM_IOMMU=amd VM_FILES="iommufd_rs_vfio vfio-selftests.sh $vprogs" VM_CMD="$amdcmd" \
		VM_KMEMLEAK=1 VM_LOG="$amdvmlog" VM_TIMEOUT=${CHECK_TIMEOUT:-1200} "$here/vm.sh" "$out") >"$amdtap"
	amdrc=$?
fi

# --- kernel-log suites: kernel_log VM_EXIT LOG prints the suite of one VM run.
kernel_log() {
	local rc=$1 log=$2
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 125 ]; then
		echo "not ok 1 guest-finished # vm.sh exit $rc (hang or boot failure)"
	elif grep -q 'iommufd-vm: kmemleak scan done' "$log"; then
		echo "ok 1 guest-finished"
	else
		echo "not ok 1 guest-finished # no kmemleak scan in the log"
	fi
	local scan=$log
	if [ "$IMPL" = c ]; then
		# C's own bugs that c-impl.known lists: printed with their trace, not counted.
		scan=$results/scan-$(basename "$log")
		python3 "$here/logknown.py" "$log" "$sel/c-impl.known" "$scan" | sed 's/^/# /'
	fi
	if "$here/logscan.sh" "$scan" >"$results/splats"; then
		echo "ok 2 no-kernel-splat"
	else
		echo "not ok 2 no-kernel-splat"
		head -n 40 "$results/splats" | sed 's/^/# /'
	fi
	echo "1..2"
}
klog=$results/kernel-log.tap
kernel_log $vmrc "$vmlog" >"$klog"
amdklog=$results/kernel-log-amd.tap
[ "$ARCH" = x86_64 ] && kernel_log $amdrc "$amdvmlog" >"$amdklog"

# --- Print and count.
pass=0 fail=0 skip=0
count() { # FILE: count TAP results (KUnit: the indented test cases)
	local p f s
	p=$(grep -cE '^\s*ok [0-9]+' "$1" | head -n1)
	s=$(grep -cE '^\s*ok [0-9]+ .*# ?SKIP' "$1" | head -n1)
	f=$(grep -cE '^\s*not ok [0-9]+' "$1" | head -n1)
	pass=$((pass + p - s)) fail=$((fail + f)) skip=$((skip + s))
}
suite() { # NAME FILE
	echo "# Suite: $1"
	cat "$2"
	count "$2"
}
suite host "$host"
awk -v dir="$results" '
	/^@@SUITE / { name = $2; gsub("/", "_", name); next }
	name != "" { print > (dir "/suite-" name ".tap") }' "$guest"
for t in $tests; do
	f=$results/suite-selftests_$t.tap
	if [ -s "$f" ] && [ "$IMPL" = c ]; then
		# The cases left out on C, as skips with their reason.
		grep -v '^#' "$sel/c-impl.skip" | awk -v p="$t" '$1 == p {
			r = ""; for (i = 3; i <= NF; i++) r = r " " $i
			printf "ok 0 %s # SKIP C:%s\n", $2, r }' >>"$f"
	fi
	if [ -s "$f" ]; then
		suite "selftests/$t" "$f"
	else
		echo "# Suite: selftests/$t"; echo "not ok 1 $t # did not run"; fail=$((fail + 1))
	fi
done
vfio_suites() { # FILES NAME: the VFIO selftest suites of one guest, from $results/suite-FILES_*.tap, as NAME/*
	local t f
	for t in $vprogs; do
		f=$results/suite-$1_$t.tap
		if [ -s "$f" ]; then
			# The cases vfio-selftests.skip lists fail on C as on ours: skips, with why.
			awk -v p="$t" -v skip="$sel/vfio-selftests.skip" '
				BEGIN { while ((getline l < skip) > 0) if (l !~ /^#/ && split(l, w, " ") >= 2 && w[1] == p) {
					r = l; sub(/^[^ ]+ [^ ]+ /, "", r); why[w[2]] = r } }
				/^not ok [0-9]+ / { n = $4; if (n in why) { sub(/^not ok/, "ok"); $0 = $0 " # SKIP " why[n] } }
				{ print }' "$f" >"$f.new" && mv "$f.new" "$f"
			suite "$2/$t" "$f"
		else
			echo "# Suite: $2/$t"; echo "not ok 1 $t # did not run"; fail=$((fail + 1))
		fi
	done
}
vfio_suites vfio vfio
f=$results/suite-upstream_iommufd.tap
if [ -s "$f" ]; then
	suite "upstream/iommufd" "$f"
else
	echo "# Suite: upstream/iommufd"; echo "not ok 1 upstream-iommufd # did not run"; fail=$((fail + 1))
fi
f=$results/suite-upstream_iommufd_fail_nth.tap
if [ -s "$f" ]; then
	suite "upstream/iommufd_fail_nth" "$f"
else
	echo "# Suite: upstream/iommufd_fail_nth"; echo "not ok 1 upstream-iommufd_fail_nth # did not run"; fail=$((fail + 1))
fi
f=$results/suite-kunit.tap
# KUnit: only the test cases (indented) count; a suite line repeats its cases' verdict.
if [ "$IMPL" = c ]; then
	echo "# Suite: kunit"; echo "ok 1 kunit # SKIP the C iommufd has no KUnit suites"; skip=$((skip + 1))
elif grep -qE '^\s+(not )?ok [0-9]+' "$f" 2>/dev/null; then
	echo "# Suite: kunit"
	cat "$f"
	grep -E '^\s+(not )?ok [0-9]+' "$f" >"$results/kunit-cases"
	count "$results/kunit-cases"
else
	echo "# Suite: kunit"; echo "not ok 1 kunit # no results"; fail=$((fail + 1))
fi
suite kernel-log "$klog"
if [ "$ARCH" = x86_64 ]; then
	awk -v dir="$results" '
		/^@@SUITE / { name = $2; gsub("/", "_", name); gsub("-", "", name); next }
		name != "" { print > (dir "/suite-" name ".tap") }' "$amdtap"
	f=$results/suite-amdvi_iommufd_rs_vfio.tap
	if grep -qE '^(not )?ok [0-9]+' "$f" 2>/dev/null; then
		suite "amd-vi/iommufd_rs_vfio" "$f"
	else
		echo "# Suite: amd-vi/iommufd_rs_vfio"; echo "not ok 1 iommufd_rs_vfio # did not run"; fail=$((fail + 1))
	fi
	vfio_suites amdvi_vfio amd-vi/vfio
	suite kernel-log-amd "$amdklog"
	echo "# kernel log: $vmlog (AMD-Vi: $amdvmlog)"
else
	echo "# kernel log: $vmlog"
fi
label=$ARCH
[ "$PAGES" = 4k ] || label="$ARCH, $PAGES pages"
[ "$IMPL" = c ] && label="$label, C iommufd"
echo "$pass passed, $fail failed, $skip skipped ($label)"
[ $fail -eq 0 ]
