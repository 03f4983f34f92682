#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what building and booting the project needs on a Debian 12 host.
# Idempotent: every step checks first and is quick when there is nothing to do.
# The Debian mirror is taken from the machine's own apt configuration.
set -euo pipefail

log() { printf '[host-setup] %s\n' "$*" >&2; }

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

APT_PKGS=(clang-19 lld-19 llvm-19 libclang-19-dev flex bison bc cpio libelf-dev
	libssl-dev kmod dwarves busybox-static libcap-dev uuid-dev xz-utils make gcc python3
	rsync)
# The guest of each architecture: its QEMU (from bookworm-backports, for QEMU 10),
# and for arm64 the cross compiler the test programs are built with.
ARCH=${ARCH:-x86_64}
case "$ARCH" in
x86_64) qemu_bin=qemu-system-x86_64 qemu_pkg=qemu-system-x86 ;;
arm64)
	qemu_bin=qemu-system-aarch64 qemu_pkg=qemu-system-arm
	APT_PKGS+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
	;;
*) log "unsupported ARCH=$ARCH"; exit 1 ;;
esac

missing=()
for p in "${APT_PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
qemu_ok=0
command -v "$qemu_bin" >/dev/null 2>&1 && qemu_ok=1

if [ ${#missing[@]} -gt 0 ] || [ $qemu_ok -eq 0 ]; then
	mirror=$(debian_mirror)
	bpo=/etc/apt/sources.list.d/iommufd-rs-backports.list
	if [ ! -f "$bpo" ]; then
		log "adding bookworm-backports (for QEMU 10) from mirror of this machine"
		echo "deb $mirror bookworm-backports main" | $SUDO tee "$bpo" >/dev/null
	fi
	log "apt-get update"
	$SUDO apt-get update -qq
	if [ ${#missing[@]} -gt 0 ]; then
		log "installing: ${missing[*]}"
		DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -o=Dpkg::Use-Pty=0 --no-install-recommends "${missing[@]}"
	fi
	if [ $qemu_ok -eq 0 ]; then
		log "installing $qemu_pkg from bookworm-backports"
		DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -o=Dpkg::Use-Pty=0 --no-install-recommends \
			-t bookworm-backports "$qemu_pkg" ||
			DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -o=Dpkg::Use-Pty=0 --no-install-recommends "$qemu_pkg"
	fi
fi

# Rust: the kernel wants the standard library's source and bindgen >= 0.71.1.
export PATH="$HOME/.cargo/bin:$PATH"
if ! rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
	log "rustup component add rust-src"
	rustup component add rust-src
fi
if ! command -v bindgen >/dev/null 2>&1; then
	log "cargo install bindgen-cli (about a minute)"
	cargo install --locked bindgen-cli --version '^0.72'
fi
# The guest's busybox and the test programs' libcap, for another architecture.
[ "$ARCH" = x86_64 ] || "$(dirname "$0")/fetch-sysroot.sh" "$ARCH" "${CACHE:-$HOME/.cache/iommufd-rs}/sysroot-$ARCH"
log "host ready ($ARCH)"
