#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# fetch-sysroot.sh ARCH DEST: make DEST a folder with what the guest and the test
# programs of another architecture need from Debian: the static busybox the
# initramfs runs (DEST/bin/busybox), libcap, which the upstream iommufd
# selftests link (DEST/usr/lib/<triplet>/libcap.a), and libuuid, which the
# kernel's VFIO selftests link (libuuid.a). The packages come from the
# machine's own Debian suite and mirror, through private apt state under DEST.apt,
# and are unpacked with dpkg-deb: the system's packages and architectures are left
# alone. The C library and compiler are the cross toolchain's (host-setup.sh).
set -euo pipefail

ARCH=${1:?usage: fetch-sysroot.sh ARCH DEST}
DEST=${2:?usage: fetch-sysroot.sh ARCH DEST}
log() { printf '[fetch-sysroot] %s\n' "$*" >&2; }

case "$ARCH" in
arm64) debarch=arm64 ;;
*) log "no sysroot for ARCH=$ARCH"; exit 1 ;;
esac
pkgs=(busybox-static libcap-dev libcap2 uuid-dev libuuid1)
stamp="$debarch ${pkgs[*]}"
if [ -x "$DEST/bin/busybox" ] && [ "$(cat "$DEST/.iommufd-rs-sysroot" 2>/dev/null)" = "$stamp" ]; then
	exit 0
fi

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=/dev/null
suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$suite" ] || { log "no VERSION_CODENAME in /etc/os-release"; exit 1; }
apt_dir=$DEST.apt
private_apt "$apt_dir" "$suite"
APT_OPTS+=(-o APT::Architecture="$debarch" -o APT::Architectures="$debarch")
log "apt-get update ($suite, $debarch, private lists)"
apt-get "${APT_OPTS[@]}" update -qq
mkdir -p "$apt_dir/deb"
rm -f "$apt_dir"/deb/*.deb
log "downloading ${pkgs[*]} ($debarch)"
(cd "$apt_dir/deb" && apt-get "${APT_OPTS[@]}" download "${pkgs[@]/%/:$debarch}")
rm -rf "$DEST"
mkdir -p "$DEST"
for d in "$apt_dir"/deb/*.deb; do dpkg-deb -x "$d" "$DEST"; done
[ -x "$DEST/bin/busybox" ] || { log "busybox-static:$debarch has no /bin/busybox"; exit 1; }
printf '%s\n' "$stamp" >"$DEST/.iommufd-rs-sysroot"
log "sysroot ready: $DEST"
