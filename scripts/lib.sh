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
