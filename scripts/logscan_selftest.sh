#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# logscan_selftest.sh flags|clean: the splat detector must catch what it claims to.
#
# flags: each sample report (KASAN, lockdep, WARN, kmemleak, sleeping in atomic, hung
#        task, x86 and arm64 oopses) must be flagged on its own.
# clean: a clean boot log must pass, with the IOMMU faults the VFIO test provokes on
#        purpose (VT-d, SMMUv3).
set -u
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
case "${1:?}" in
flags)
	while IFS= read -r line; do
		printf '[    1.000000] iommufd: fine\n%s\n' "$line" >"$tmp"
		if "$here/logscan.sh" "$tmp" >/dev/null; then
			echo "not flagged: $line"
			exit 1
		fi
	done <<'SAMPLES'
[   12.3] BUG: KASAN: slab-use-after-free in iommufd_destroy+0x42/0x80 [iommufd]
[   12.3] WARNING: possible circular locking dependency detected
[   12.3] WARNING: CPU: 1 PID: 77 at drivers/iommu/iommufd/object.rs:150 publish+0x1/0x2
[   12.3] unreferenced object 0xffff888003a1c000 (size 64):
[   12.3] BUG: sleeping function called from invalid context at kernel/locking/mutex.c:580
[   12.3] INFO: task iommufd_rs_core:93 blocked for more than 60 seconds.
[   12.3] kmemleak: 2 new suspected memory leaks (see /sys/kernel/debug/kmemleak)
[   12.3] Oops: general protection fault, probably for non-canonical address
[   12.3] Unable to handle kernel NULL pointer dereference at virtual address 0000000000000008
[   12.3] Internal error: Oops: 0000000096000004 [#1]  SMP
[   12.3] SError Interrupt on CPU1, code 0x00000000be000011 -- SError
SAMPLES
	;;
clean)
	cat >"$tmp" <<'LOG'
[    0.000000] Linux version 7.2.13 (root@host) #1 SMP PREEMPT_DYNAMIC
[    3.262462] PCI: Using host bridge windows from ACPI; if necessary, use "pci=nocrs" and report a bug
[   11.238624] kmemleak: Kernel memory leak detector initialized (mem pool available: 14925)
[   12.939141] ok 1 iommufd_iova_set
[   13.100000] DMAR: [DMA Write NO_PASID] Request device [00:03.0] fault addr 0x201000 [fault reason 0x05] PTE Write access is not set
[   10.938098] arm-smmu-v3 9050000.smmuv3: event 0x10 received:
[   10.938404] arm-smmu-v3 9050000.smmuv3: event: F_TRANSLATION client: 0000:00:02.0 sid: 0x10 ssid: 0x0 iova: 0x201000 ipa: 0x0
[   33.739541] iommufd-vm: kmemleak scan done
LOG
	"$here/logscan.sh" "$tmp"
	;;
esac
