#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Install the Debian packages the build links against, if missing and root:
# liburing-dev (io_uring tests) and libnuma-dev (NUMA tests). Without them
# the build still works and those tests SKIP saying so.
# Guarantees: prints nothing on stdout (make reads it); exits 0 whatever
# happens; when a package is still missing afterwards, one line on stderr
# names it, says why and how to get it. apt waits are bounded.
PKGS="liburing-dev libnuma-dev"
HOWTO="the io_uring and NUMA tests that need them will SKIP"

missing()
{
	m=
	for p in $PKGS; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q ' installed$' ||
			m="$m $p"
	done
	echo "${m# }"
}

# apt_install PKG...: bounded (apt's lock held by another install: wait up
# to 5 min; the whole install: 15 min), non-interactive, log on stderr.
apt_install()
{
	DEBIAN_FRONTEND=noninteractive timeout 900 \
		apt-get install -y -q -o DPkg::Lock::Timeout=300 "$@" >&2
}

if ! command -v dpkg-query >/dev/null; then
	echo "deps.sh: not a Debian system (no dpkg-query): install liburing and libnuma with their headers yourself, else $HOWTO" >&2
	exit 0
fi
pkgs=$(missing)
[ -n "$pkgs" ] || exit 0
if ! command -v apt-get >/dev/null; then
	echo "deps.sh: missing $pkgs and no apt-get to install them: install them by hand, else $HOWTO" >&2
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing $pkgs: run make as root (it installs them) or run 'apt-get install $pkgs' as root, else $HOWTO" >&2
	exit 0
fi
# shellcheck disable=SC2086 # a list of package names
apt_install $pkgs || { timeout 600 apt-get update -q >&2 && apt_install $pkgs; }
pkgs=$(missing)
[ -z "$pkgs" ] ||
	echo "deps.sh: 'apt-get install $pkgs' failed (apt's messages above): check /etc/apt/sources.list* and the network, else $HOWTO" >&2
exit 0
