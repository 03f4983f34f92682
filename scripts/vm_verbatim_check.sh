#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# vm_verbatim_check.sh: `make vm` passes VM_CMD to the guest verbatim. Runs, through the
# project's Makefile as a user would, a command with a shell loop variable, a command
# substitution, single and double quotes and a pipe, and checks what the guest printed.
# (make expands `$` in a variable given on its command line unless the Makefile keeps it
# from doing so.)
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=$(make -s -C "$repo" vm \
	VM_CMD='for s in 1 2; do echo "seed $s"; done; n=$(ls /dev/iommu | wc -l); echo "nodes=$n"; echo '"'"'it is "quoted" $HOME'"'"' | tr a-z A-Z' \
	VM_TIMEOUT=300 VM_LOG="${TMPDIR:-/tmp}/vm-verbatim-$$.log" 2>&1)
rc=$?
rm -f "${TMPDIR:-/tmp}/vm-verbatim-$$.log"
printf '%s\n' "$out"
[ $rc -eq 0 ] || { echo "make vm failed ($rc)"; exit 1; }
for want in 'seed 1' 'seed 2' 'nodes=1' 'IT IS "QUOTED" $HOME'; do
	grep -qxF "$want" <<<"$out" || { echo "missing from the guest's output: $want"; exit 1; }
done
