#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build.sh: prepare the kernel tree, overlay the project, configure and build.
#
# Environment (all optional, the top-level Makefile passes them):
#   ARCH        x86_64 (default) or arm64
#   FLAVOUR     debug (default): the kernel `make check` and `make vm` run;
#               bench: no debugging options, for `make bench`
#   PROFILE     1: add configs/profile.config (ftrace's function profiler) to the
#               flavour, in its own build folder (for profiling `make bench` workloads)
#   IMPL        rust (default): the project's iommufd; c: the tree's own C iommufd,
#               built from an untouched copy of the same tree (for `make bench`)
#   CACHE       build cache, default ~/.cache/iommufd-rs; survives fresh clones
#   KERNEL_SRC  a Linux 7.2 tree of your own; default: Debian's linux-source-7.2
#   JOBS        parallel jobs, default nproc + 1
#   PAGES       the kernel's page size: 4k (default), or on arm64 64k
#               (configs/arm64-64k.config, in a build folder of its own)
#
# Prints the build folder (O=) on its last line.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
ARCH=${ARCH:-x86_64}
FLAVOUR=${FLAVOUR:-debug}
CACHE=${CACHE:-$HOME/.cache/iommufd-rs}
JOBS=${JOBS:-$(($(nproc) + 1))}
log() { printf '[build] %s\n' "$*" >&2; }

export PATH="$HOME/.cargo/bin:$PATH"
mkdir -p "$CACHE"

# 1. The pristine tree: the user's, or Debian's package, fetched once.
if [ -n "${KERNEL_SRC:-}" ]; then
	pristine=$(cd "$KERNEL_SRC" && pwd)
	[ -f "$pristine/Makefile" ] || { log "KERNEL_SRC=$KERNEL_SRC is not a kernel tree"; exit 1; }
	tag=user-$(printf '%s' "$pristine" | md5sum | cut -c1-8)
else
	pristine=$CACHE/linux-7.2
	"$here/fetch-kernel.sh" "$pristine"
	tag=debian
fi
version=$(make -s -C "$pristine" kernelversion 2>/dev/null)
case "$version" in
7.2|7.2.*) ;;
*) log "warning: $pristine is Linux $version, the project targets 7.2.x" ;;
esac

# 2. The working tree: a copy of the pristine tree with the project overlaid (for
# IMPL=c, without). It is refreshed from the pristine tree when that changes.
IMPL=${IMPL:-rust}
case "$IMPL" in
rust) src=$CACHE/src-$tag ;;
c) src=$CACHE/src-$tag-c ;;
*) log "IMPL must be rust or c"; exit 1 ;;
esac
stamp="$pristine:$version:$(stat -c %Y "$pristine/Makefile")"
if [ ! -f "$src/.iommufd-rs-base" ] || [ "$(cat "$src/.iommufd-rs-base")" != "$stamp" ]; then
	log "copying $pristine ($version) to $src"
	mkdir -p "$src"
	rsync -a --delete --exclude=/.iommufd-rs-base "$pristine/" "$src/"
	printf '%s\n' "$stamp" >"$src/.iommufd-rs-base"
fi
[ "$IMPL" = c ] || "$here/overlay.sh" "$repo" "$src" "$pristine"

# 3. Configuration: tinyconfig + our fragments, redone when a fragment changes.
out=$CACHE/build-$tag-$ARCH-$FLAVOUR
frags=("$repo/configs/common.config" "$repo/configs/$ARCH.config" "$repo/configs/$FLAVOUR.config")
# What a flavour needs on one architecture only (optional).
[ -f "$repo/configs/$ARCH-$FLAVOUR.config" ] && frags+=("$repo/configs/$ARCH-$FLAVOUR.config")
# The page size: 4 KiB everywhere by default; arm64 also builds with 64 KiB.
PAGES=${PAGES:-4k}
case "$ARCH:$PAGES" in
*:4k) ;;
arm64:64k)
	frags+=("$repo/configs/arm64-$PAGES.config")
	out=$out-$PAGES
	;;
*) log "PAGES=$PAGES: $ARCH builds with 4k pages only (arm64: 4k or 64k)"; exit 1 ;;
esac
if [ "${PROFILE:-0}" = 1 ]; then
	out=$out-prof
	frags+=("$repo/configs/profile.config")
fi
[ "$IMPL" = c ] && out=$out-c
mkdir -p "$out"
for f in "${frags[@]}"; do [ -f "$f" ] || { log "missing $f"; exit 1; }; done
cfgsum=$(cat "${frags[@]}" | md5sum | cut -d' ' -f1)
# CLIPPY=1: every Rust object is also linted (scripts/lint.sh reports the warnings).
MAKE=(make -C "$src" O="$out" ARCH="$ARCH" LLVM=-19 CLIPPY=1 -j"$JOBS")
if [ ! -f "$out/.config" ] || [ "$(cat "$out/.iommufd-rs-config" 2>/dev/null)" != "$cfgsum" ]; then
	log "configuring $out"
	"${MAKE[@]}" -s tinyconfig >/dev/null
	KCONFIG_CONFIG="$out/.config" "$src/scripts/kconfig/merge_config.sh" -m -O "$out" \
		"$out/.config" "${frags[@]}" >/dev/null
	"${MAKE[@]}" -s olddefconfig >/dev/null
	# Every line of the fragments must have survived Kconfig's resolution (for a symbol
	# that several fragments set, the last one's line, as merge_config.sh takes it).
	bad=0
	while IFS= read -r line; do
		case "$line" in CONFIG_*=*) ;; *) continue ;; esac
		sym=${line%%=*}; want=${line#*=}
		if [ "$want" = n ]; then
			grep -qx "$sym=[ym]" "$out/.config" && { log "$sym is set, the fragment wants n"; bad=1; }
		else
			grep -qx "$line" "$out/.config" || { log "$line did not take: $(grep -E "^(# )?$sym[= ]" "$out/.config" || echo unset)"; bad=1; }
		fi
	done < <(cat "${frags[@]}" | grep -E '^CONFIG_[A-Za-z0-9_]+=' |
		awk -F= '{ last[$1] = $0; order[$1] = NR } END { for (s in last) print order[s], last[s] }' |
		sort -n | cut -d' ' -f2-)
	if [ $bad -ne 0 ]; then
		log "configuration incomplete (is Rust available? try: make -C $src O=$out LLVM=-19 rustavailable)"
		exit 1
	fi
	printf '%s\n' "$cfgsum" >"$out/.iommufd-rs-config"
fi

# 4. Build. Kbuild is incremental: a change confined to the module rebuilds only the
# module (and the no-op walk of the rest takes seconds).
case "$ARCH" in
x86_64) target=bzImage ;;
arm64) target=Image ;;
*) log "unsupported ARCH=$ARCH"; exit 1 ;;
esac
log "building $target and modules in $out (LLVM=-19, -j$JOBS)"
"${MAKE[@]}" "$target" modules >&2
printf '%s\n' "$src" >"$out/.iommufd-rs-src"
printf '%s\n' "$pristine" >"$out/.iommufd-rs-pristine"
echo "$out"
