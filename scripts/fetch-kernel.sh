#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# fetch-kernel.sh DEST
#
# Make DEST a pristine Linux 7.2.x tree from Debian's linux-source-7.2 package.
# The system's apt state is left alone: a private sources list, list folder and
# cache under the build cache are used instead. The mirror comes from the
# machine's own apt configuration.
set -euo pipefail

DEST=${1:?usage: fetch-kernel.sh DEST}
CACHE=$(dirname "$DEST")/apt
log() { printf '[fetch-kernel] %s\n' "$*" >&2; }

if [ -f "$DEST/Makefile" ] && [ -f "$DEST/.iommufd-rs-pristine" ]; then
	log "using $DEST ($(cat "$DEST/.iommufd-rs-pristine"))"
	exit 0
fi

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
private_apt "$CACHE" trixie-backports forky sid
APT=("${APT_OPTS[@]}")
mkdir -p "$CACHE/deb"

deb=$(ls "$CACHE"/deb/linux-source-7.2_*.deb 2>/dev/null | sort -V | tail -n1 || true)
if [ -z "$deb" ]; then
	log "apt-get update (private lists: trixie-backports forky sid)"
	apt-get "${APT[@]}" update -qq
	log "downloading linux-source-7.2"
	(cd "$CACHE/deb" && apt-get "${APT[@]}" download linux-source-7.2)
	deb=$(ls "$CACHE"/deb/linux-source-7.2_*.deb | sort -V | tail -n1)
fi
log "package: $(basename "$deb")"

tmp=$(mktemp -d "$(dirname "$DEST")/extract.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -x "$deb" "$tmp/pkg"
tarball=$(ls "$tmp"/pkg/usr/src/linux-source-7.2*.tar.* | head -n1)
log "unpacking $(basename "$tarball")"
mkdir -p "$tmp/src"
tar -xf "$tarball" -C "$tmp/src"
top=$(ls -d "$tmp"/src/*/ | head -n1)
rm -rf "$DEST"
mv "$top" "$DEST"
basename "$deb" >"$DEST/.iommufd-rs-pristine"
log "tree ready: $DEST"
