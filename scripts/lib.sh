# SPDX-License-Identifier: GPL-2.0
# Shell helpers shared by the project's scripts. Source, do not run.

# Print the Debian archive mirror this machine's apt is configured with: the
# first deb822 "URIs:" (or classic "deb" line) that is not the security archive.
debian_mirror() {
	local uri
	uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null |
		awk '{print $2}' | grep -v -- '-security' | head -n1 || true)
	if [ -z "$uri" ]; then
		uri=$(grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
			grep -v iommufd-rs | awk '{print $2}' | grep -v -- '-security' | head -n1 || true)
	fi
	[ -n "$uri" ] || { echo "no Debian mirror in the apt configuration" >&2; return 1; }
	printf '%s\n' "$uri"
}

# private_apt DIR SUITE...: set APT_OPTS to apt-get options that use a sources list,
# list folder and cache of their own under DIR (the system's apt state is left
# alone), listing SUITE... of the machine's Debian mirror. Further options (an
# architecture) may be appended to APT_OPTS by the caller.
private_apt() {
	local dir=$1 mirror suite
	shift
	mirror=$(debian_mirror)
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
	: >"$dir/sources.list"
	for suite in "$@"; do
		echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" >>"$dir/sources.list"
	done
	APT_OPTS=(-o Dir::Etc::sourcelist="$dir/sources.list" -o Dir::Etc::sourceparts=- \
		-o Dir::State::Lists="$dir/lists" -o Dir::Cache="$dir/cache" \
		-o Debug::NoLocking=1 -o APT::Get::AllowUnauthenticated=false)
}

# target_cc ARCH: set TARGET_CC to the compiler command (an array) for the guest's
# test programs: the host's gcc on x86_64, the Debian cross gcc on arm64 with the
# sysroot of scripts/fetch-sysroot.sh for libcap. Programs are linked statically.
target_cc() {
	local sys=${CACHE:-$HOME/.cache/iommufd-rs}/sysroot-$1
	case "$1" in
	x86_64) TARGET_CC=(gcc) ;;
	arm64) TARGET_CC=(aarch64-linux-gnu-gcc -I"$sys/usr/include" -L"$sys/usr/lib/aarch64-linux-gnu") ;;
	*) echo "no compiler for ARCH=$1" >&2; return 1 ;;
	esac
}
