#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# shell_check.sh: `make shell` gives an interactive shell in the guest, as a user types into
# it: once the guest says it is ready, a line with an arithmetic expansion and a look at
# /dev/iommu is typed, then exit; the guest must answer and power off cleanly.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
console=$(mktemp "${TMPDIR:-/tmp}/shell-check.XXXXXX")
coproc GUEST { make -s -C "$repo" shell VM_LOG="$console" 2>&1; }
pid=$GUEST_PID
answered=0 node=0
while IFS= read -r -t 300 line <&"${GUEST[0]}"; do
	line=${line%$'\r'}
	printf '%s\n' "$line"
	case "$line" in
	*"iommufd shell: exit"*) printf 'echo "answer $((6 * 7))"; ls /dev/iommu; exit\n' >&"${GUEST[1]}" ;;
	"answer 42") answered=1 ;;
	/dev/iommu) node=1 ;;
	esac
done
kill "$pid" 2>/dev/null
wait "$pid"
rc=$?
rm -f "$console"
[ $rc -eq 0 ] || { echo "make shell exited with $rc"; exit 1; }
[ $answered = 1 ] || { echo "the guest's shell did not answer"; exit 1; }
[ $node = 1 ] || { echo "no /dev/iommu in the guest"; exit 1; }
