#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# logscan.sh LOG: report kernel splats in a guest's kernel log.
#
# Prints each offending line and exits 1 if the log shows a BUG, WARNING, KASAN or
# UBSAN report, a lockdep splat, a kmemleak report, an oops or panic, a hung task,
# a soft or hard lockup or an RCU stall. Exits 0 if the log is clean.
set -u
log=${1:?usage: logscan.sh LOG}
patterns=(
	'BUG:'                          # KASAN, sleeping in atomic, NULL deref, list corruption...
	'WARNING:'                      # WARN_ON and lockdep's reports
	'KASAN'
	'UBSAN:'
	'unreferenced object 0x'        # kmemleak
	'kmemleak: .*new suspected memory leaks'
	'possible recursive locking'
	'inconsistent lock state'
	'circular locking dependency'
	'DEBUG_LOCKS_WARN_ON'
	'Oops'
	'general protection fault'
	'Unable to handle kernel'       # arm64's page fault in the kernel (then "Internal error: Oops")
	'SError Interrupt'              # arm64's asynchronous external abort
	'Kernel panic'
	'kernel BUG at'
	'INFO: task .* blocked for more than'
	'soft lockup'
	'hard LOCKUP'
	'rcu: INFO: .* stall'
)
regex=$(IFS='|'; echo "${patterns[*]}")
if grep -E -n -- "$regex" "$log"; then
	exit 1
fi
exit 0
