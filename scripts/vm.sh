#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# vm.sh OUT: boot the kernel built in OUT under QEMU (TCG) and run a command in it.
#
# Environment:
#   VM_CMD       shell command run with /bin/sh in the guest's working directory
#   VM_FILES     host files copied into that directory
#   VM_IOMMU     x86_64: intel (default: q35 + VT-d) or amd (q35 + AMD-Vi, see the
#                README); arm64: smmuv3 (the virt board's SMMUv3, the only one)
#   VM_TIMEOUT   seconds before the guest is declared hung (default 600)
#   VM_MEM       guest memory (default 2G; 4G for a kernel with 64 KiB pages, whose
#                huge pages are 512 MiB)
#   VM_LOG       where to keep the guest's kernel log (default OUT/vm-console.log, or
#                OUT/vm-console-PID.log while another guest of the same build writes that)
#   VM_KMEMLEAK  1: after the command, scan for leaks and print the report to the log
#   VM_QEMU_ARGS extra QEMU arguments, split on blanks, appended to the command line
#                (e.g. "-device edu" for a second edu; devices sit behind the IOMMU)
#   VM_SHELL     1: instead of VM_CMD, an interactive shell on this terminal (the second
#                serial port, on stdin and stdout), set up the same way; exit or Ctrl-D
#                powers the guest off. The kernel log still goes to VM_LOG (and dmesg).
#   ARCH         x86_64 (default) or arm64
#   CACHE        the build cache (default ~/.cache/iommufd-rs): arm64's busybox is
#                in its sysroot-arm64 (scripts/fetch-sysroot.sh)
#
# The guest mounts proc, sys, devtmpfs and debugfs, reserves 128 MiB of huge pages
# (64 of 2 MiB; at least 2, so 1 GiB with 64 KiB pages' 512 MiB ones) and loads
# iommufd.ko before the command. The command's output is printed; the kernel log goes to
# VM_LOG. Exit status: the command's; 124 if the guest hung; 125 if it never ran the command.
set -euo pipefail

out=${1:?usage: vm.sh BUILD_DIR}
ARCH=${ARCH:-x86_64}
CACHE=${CACHE:-$HOME/.cache/iommufd-rs}
case "$ARCH" in
x86_64) VM_IOMMU=${VM_IOMMU:-intel} ;;
arm64) VM_IOMMU=${VM_IOMMU:-smmuv3} ;;
*) printf '[vm] unsupported ARCH=%s\n' "$ARCH" >&2; exit 125 ;;
esac
VM_TIMEOUT=${VM_TIMEOUT:-600}
# 64 KiB pages: a PMD, so a huge page, is 512 MiB, and the upstream selftests map two.
mem=2G
grep -q '^CONFIG_ARM64_64K_PAGES=y' "$out/.config" 2>/dev/null && mem=4G
VM_MEM=${VM_MEM:-$mem}
if [ -z "${VM_LOG:-}" ]; then
	# OUT/vm-console.log, unless another guest of this build is writing it.
	VM_LOG=$out/vm-console.log
	exec 9>>"$VM_LOG.lock"
	if ! flock -n 9; then
		VM_LOG=$out/vm-console-$$.log
		printf '[vm] %s\n' "another guest writes $out/vm-console.log: this one's kernel log is $VM_LOG" >&2
	fi
fi
VM_CMD=${VM_CMD:-true}
read -r -a qemu_extra <<<"${VM_QEMU_ARGS:-}"
log() { printf '[vm] %s\n' "$*" >&2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/iommufd-vm.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,work,lib/modules,mnt/huge}

# Userspace: the static busybox of Debian's busybox-static, of the guest's architecture.
bb=/bin/busybox
[ "$ARCH" = x86_64 ] || bb=$CACHE/sysroot-$ARCH/bin/busybox
[ -x "$bb" ] || { log "no $bb: install busybox-static (make setup ARCH=$ARCH)"; exit 125; }
cp "$bb" "$root/bin/busybox"

# Modules the guest loads, in order: iommufd, then VFIO's when the kernel has
# them (vfio-pci needs irqbypass before vfio-pci-core). Each line of the order
# file is a module and its parameters.
modules=(drivers/iommu/iommufd/iommufd.ko)
for m in virt/lib/irqbypass.ko drivers/vfio/vfio.ko drivers/vfio/pci/vfio-pci-core.ko \
	drivers/vfio/pci/vfio-pci.ko; do
	[ -f "$out/$m" ] && modules+=("$m")
done
# QEMU's AMD-Vi boots only without interrupt remapping (see VM_IOMMU below), so
# MSIs are not isolated there and iommufd binds devices only when allowed to.
iommufd_params=
[ "$VM_IOMMU" = amd ] && iommufd_params=allow_unsafe_interrupts=1
: >"$root/lib/modules/order"
for m in "${modules[@]}"; do
	[ -f "$out/$m" ] || { log "missing $out/$m (build first)"; exit 125; }
	cp "$out/$m" "$root/lib/modules/"
	params=
	[ "${m##*/}" = iommufd.ko ] && params=$iommufd_params
	printf '%s %s\n' "${m##*/}" "$params" >>"$root/lib/modules/order"
done

# The files to run.
for f in ${VM_FILES:-}; do
	[ -e "$f" ] || { log "VM_FILES: no such file: $f"; exit 125; }
	cp -r "$f" "$root/work/"
done
printf '%s\n' "$VM_CMD" >"$root/work/.vm_cmd"
# The second serial port, where the command's output goes (the first is the console).
case "$ARCH" in
x86_64) echo /dev/ttyS1 ;;
arm64) echo /dev/ttyAMA1 ;;
esac >"$root/work/.vm_tty"
echo "${VM_KMEMLEAK:-0}" >"$root/work/.vm_kmemleak"
VM_SHELL=${VM_SHELL:-0}
echo "$VM_SHELL" >"$root/work/.vm_shell"

cat >"$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug
mount -t tmpfs tmp /tmp
mkdir -p /dev/hugepages && mount -t hugetlbfs none /dev/hugepages
# 128 MiB of huge pages, and at least two (the upstream selftests map two at once).
hp=$(awk '/^Hugepagesize:/ { n = int(131072 / $2); print n < 2 ? 2 : n }' /proc/meminfo)
echo "${hp:-64}" >/proc/sys/vm/nr_hugepages
# The command's output goes to the second serial port; the kernel's to the first.
exec </dev/null >"$(cat /work/.vm_tty)" 2>&1
while read -r m params; do
	insmod /lib/modules/$m $params || echo "insmod $m failed"
done </lib/modules/order
cd /work
if [ "$(cat /work/.vm_shell)" = 1 ]; then
	tty=$(cat /work/.vm_tty)
	echo "iommufd shell: iommufd.ko loaded, debugfs at /sys/kernel/debug; the kernel log: dmesg"
	echo "iommufd shell: exit (or Ctrl-D) powers the guest off"
	# A session of its own, whose controlling terminal is the serial port: job control
	# and Ctrl-C work.
	setsid sh -c "exec /bin/sh -i <$tty >$tty 2>&1"
	echo "@@VM-EXIT 0@@"
else
	echo "@@VM-START@@"
	/bin/sh -c "$(cat /work/.vm_cmd)"
	rc=$?
	echo "@@VM-EXIT $rc@@"
fi
if [ "$(cat /work/.vm_kmemleak)" = 1 ] && [ -w /sys/kernel/debug/kmemleak ]; then
	# Objects younger than 5 s are never reported: let them age, then scan twice.
	sleep 6
	echo scan >/sys/kernel/debug/kmemleak
	echo scan >/sys/kernel/debug/kmemleak
	# One write per line: /dev/kmsg takes a record per write, and drops a long one.
	while IFS= read -r line; do echo "kmemleak: $line" >/dev/kmsg; done </sys/kernel/debug/kmemleak
	echo "iommufd-vm: kmemleak scan done" >/dev/kmsg
fi
echo "iommufd-vm: done" >/dev/kmsg
sync
poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd.gz"

case "$ARCH" in
x86_64)
	kernel=$out/arch/x86/boot/bzImage
	# la57=off: with -cpu max the guest uses 5-level paging, and in the AMD-Vi VM (noapic)
	# an early legacy-PIC interrupt during boot hit a KASAN wild-memory-access in the
	# 5-level direct map in 1 of 3 boots, before any module loads; 4-level: 0 of 8.
	qemu=(qemu-system-x86_64 -cpu max,la57=off)
	append="console=ttyS0 panic=-1 oops=panic"
	case "$VM_IOMMU" in
	intel)
		qemu+=(-machine q35,kernel-irqchip=split
			-device intel-iommu,intremap=on,caching-mode=on)
		append+=" intel_iommu=on"
		;;
	amd)
		# pt=off: with QEMU 10.0's default pt=on, every device's DMA goes
		# untranslated to guest memory whatever the guest programs (the edu
		# DMA test fails for C and Rust alike); see the README.
		qemu+=(-machine q35 -device amd-iommu,intremap=off,pt=off)
		append+=" noapic"
		;;
	*) log "VM_IOMMU must be intel or amd"; exit 125 ;;
	esac
	;;
arm64)
	[ "$VM_IOMMU" = smmuv3 ] || { log "VM_IOMMU must be smmuv3 on arm64"; exit 125; }
	kernel=$out/arch/arm64/boot/Image
	# GICv3 with its ITS: MSIs are isolated, so iommufd binds devices without
	# allow_unsafe_interrupts (with the default GICv2 it refuses). pauth-impdef:
	# QEMU's own pointer-authentication algorithm, much cheaper under TCG than
	# the architected QARMA. The second -serial below is the board's second UART.
	qemu=(qemu-system-aarch64 -machine virt,iommu=smmuv3,gic-version=3
		-cpu max,pauth-impdef=on)
	append="console=ttyAMA0 panic=-1 oops=panic"
	;;
esac

# The machine, the same for a command and for a shell; the first serial port is the
# kernel's console.
qemu+=(-accel tcg -smp 2 -m "$VM_MEM" -nographic -no-reboot -monitor none
	-kernel "$kernel" -initrd "$work/initrd.gz" -append "$append"
	-device edu "${qemu_extra[@]}" -serial "file:$VM_LOG")
if [ "$VM_SHELL" = 1 ]; then
	# The shell's port on this terminal (Ctrl-C goes to the guest), no time limit.
	"${qemu[@]}" -chardev stdio,id=shell,signal=off -serial chardev:shell 2>"$work/qemu.log" ||
		{ log "qemu failed ($?)"; cat "$work/qemu.log" >&2; exit 125; }
	exit 0
fi
output=$work/output.log
: >"$output"
rc=0
timeout --foreground -k 5 "$VM_TIMEOUT" "${qemu[@]}" -serial "file:$output" \
	</dev/null >"$work/qemu.log" 2>&1 || rc=$?

# Print what the command printed (between the markers).
tr -d '\r' <"$output" >"$output.txt" && mv "$output.txt" "$output"
sed -n '/@@VM-START@@/,/@@VM-EXIT/p' "$output" | sed '1d;/@@VM-EXIT/d'
grep -v '@@VM-' "$output" | sed -n '1,/^$/p' | grep -q 'insmod .* failed' && log "a module failed to load"
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	log "guest hung: no exit within ${VM_TIMEOUT}s (kernel log: $VM_LOG)"
	exit 124
fi
status=$(sed -n 's/.*@@VM-EXIT \([0-9]*\)@@.*/\1/p' "$output" | tail -n1)
if [ -z "$status" ]; then
	log "the guest did not run the command (qemu exit $rc); kernel log: $VM_LOG"
	cat "$work/qemu.log" >&2
	tail -n 30 "$VM_LOG" >&2
	exit 125
fi
exit "$status"
