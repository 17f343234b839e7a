#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Print the path of Debian's kernel source tarball for PACKAGE (default
# linux-source-6.12), kept in the suite's cache:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/uffd-collapse-suite/src/PACKAGE.tar.xz
# with the exact package version in PACKAGE.version beside it.
# When it is not cached yet, the package is fetched with `apt-get download`
# and only its tarball is taken out of the .deb: the package is never
# installed and /usr/src is never read, so a machine with another or no
# linux-source installed gets the same tarball.
#
# Guarantees: stdout is the tarball's path and nothing else; a cached
# tarball is always whole (written to a temp file in the cache, then
# renamed, the version file first); concurrent callers fetch once (flock);
# every wait is bounded; every failure prints one line on stderr saying
# what is missing and how to get it, and exits 1 (2 for a usage error).
set -eEuo pipefail

PROG=linux-source.sh
FETCH_TIMEOUT=${LINUX_SOURCE_TIMEOUT:-1800} # apt-get download of ~150 MB
UPDATE_TIMEOUT=600
HOWTO="or pass KDIR=<kernel tree> to make"
pkg=linux-source-6.12
tmp=''

usage()
{
	cat <<EOF
Usage: $PROG [-h] [PACKAGE]
Print the path of PACKAGE's source tarball (default $pkg) in
\${XDG_CACHE_HOME:-\$HOME/.cache}/uffd-collapse-suite/src/, fetching it with
apt-get download when it is not there (never installing the package).
The exact package version is in the .version file beside the tarball.
Exit: 0 path printed; 1 not available (one line on stderr says why); 2 usage.
EOF
}

die() { echo "$PROG: $*" >&2; exit 1; }
note() { echo "$PROG: $*" >&2; }
cleanup() { [ -z "$tmp" ] || rm -rf "$tmp"; }
trap cleanup EXIT
trap 'die "unexpected failure at line $LINENO: $BASH_COMMAND"' ERR

# The last error line apt printed in LOG, for a one-line reason.
apt_error()
{
	{ grep -E '^(E|W): ' "$1" || tail -n 1 "$1"; } | tail -n 1 | tr -d '\r'
}

# apt_download DIR: the .deb of $pkg in DIR, or return 1 with apt's log in
# DIR/apt.log.
apt_download()
{
	(cd "$1" && timeout "$FETCH_TIMEOUT" apt-get download -q "$pkg") \
		>"$1/apt.log" 2>&1
}

# fetch DIR: $pkg's .deb downloaded into DIR; apt's lists refreshed once
# (as root) when apt knows no such package. Dies with the reason otherwise.
fetch()
{
	local d=$1 err
	apt_download "$d" && return 0
	err=$(apt_error "$d/apt.log")
	case $err in
	*"Unable to locate package"* | *"Couldn't find any package"* | *"Can't select candidate"* | *"has no installation candidate"*)
		[ "$(id -u)" -eq 0 ] ||
			die "apt knows no package $pkg ($err) and only root can apt-get update: run as root, $HOWTO"
		note "apt knows no package $pkg: apt-get update"
		timeout "$UPDATE_TIMEOUT" apt-get update -q >"$d/update.log" 2>&1 ||
			die "apt-get update failed ($(apt_error "$d/update.log")): check /etc/apt/sources.list* and the network, $HOWTO"
		apt_download "$d" && return 0
		err=$(apt_error "$d/apt.log")
		case $err in
		*"Unable to locate package"* | *"Couldn't find any package"* | *"Can't select candidate"* | *"has no installation candidate"*)
			die "apt knows no package $pkg even after apt-get update: add a Debian source that has it to /etc/apt/sources.list.d (linux-source-6.12 is in bookworm-security), $HOWTO" ;;
		esac ;;
	esac
	die "apt-get download $pkg failed ($err): check the network and /etc/apt/sources.list*, $HOWTO"
}

case ${1:-} in
-h | --help) usage; exit 0 ;;
-*) usage >&2; exit 2 ;;
'') ;;
*) pkg=$1 ;;
esac
[ $# -le 1 ] || { usage >&2; exit 2; }
case $pkg in
linux-source-[0-9]*) ;;
*) echo "$PROG: $pkg is not a linux-source-X.Y package" >&2; exit 2 ;;
esac

if [ -n "${XDG_CACHE_HOME:-}" ]; then
	cache=$XDG_CACHE_HOME/uffd-collapse-suite/src
elif [ -n "${HOME:-}" ]; then
	cache=$HOME/.cache/uffd-collapse-suite/src
else
	die "neither XDG_CACHE_HOME nor HOME is set: set one to a writable directory for the suite's cache"
fi
tarball=$cache/$pkg.tar.xz version=$cache/$pkg.version

if [ -s "$tarball" ] && [ -s "$version" ]; then
	echo "$tarball"
	exit 0
fi

for c in apt-get dpkg-deb flock timeout tar; do
	command -v "$c" >/dev/null ||
		die "$pkg is not in $cache and there is no $c to fetch it (Debian's apt and dpkg are needed), $HOWTO"
done
{ mkdir -p "$cache" 2>/dev/null && [ -w "$cache" ]; } ||
	die "cannot write the suite's cache $cache: set XDG_CACHE_HOME to a writable directory, $HOWTO"

# One fetch at a time; whoever waited finds the tarball there.
exec 9>>"$cache/.lock"
flock -w "$FETCH_TIMEOUT" 9 ||
	die "another fetch still holds $cache/.lock after ${FETCH_TIMEOUT}s: retry, or remove a stale fetch's process"
if [ -s "$tarball" ] && [ -s "$version" ]; then
	echo "$tarball"
	exit 0
fi

tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
# apt drops privileges to _apt for downloads: let it write here.
chmod 755 "$tmp"
note "fetching $pkg with apt-get download into $cache"
fetch "$tmp"
deb=$(find "$tmp" -maxdepth 1 -name "${pkg}_*.deb" | head -n 1)
[ -n "$deb" ] || die "apt-get download $pkg left no ${pkg}_*.deb: $(apt_error "$tmp/apt.log")"
ver=$(dpkg-deb -f "$deb" Version) || die "$deb is not a valid .deb: delete it and retry"
dpkg-deb --fsys-tarfile "$deb" | tar -xf - -C "$tmp" "./usr/src/$pkg.tar.xz" 2>"$tmp/tar.log" ||
	die "no usr/src/$pkg.tar.xz in $pkg $ver's .deb, or no room in $cache ($(tail -n 1 "$tmp/tar.log"))"
rm -f "$deb"
echo "$ver" >"$tmp/version"
mv -f "$tmp/version" "$version"
mv -f "$tmp/usr/src/$pkg.tar.xz" "$tarball"
note "$pkg $ver: $tarball"
echo "$tarball"
