#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: linux-source.sh [PACKAGE]    (default linux-source-6.12)
# Print the path of PACKAGE's linux-source-X.tar.xz, fetched with
# "apt-get download" (never installed, never taken from /usr/src) and kept in
# ${XDG_CACHE_HOME:-$HOME/.cache}/uffd-collapse-suite/src/. The tarball is
# written under a temporary name and renamed: a half-written one is never
# printed. Exit 1 with a reason if it cannot be fetched.
set -euo pipefail

pkg=${1:-linux-source-6.12}
case $pkg in -h | --help) sed -n '4,9s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
[[ $pkg =~ ^linux-source-[0-9][0-9.]*$ ]] || { echo "linux-source.sh: bad package name: $pkg" >&2; exit 2; }
dir=${XDG_CACHE_HOME:-$HOME/.cache}/uffd-collapse-suite/src
tmp=''
trap '[[ -z $tmp ]] || rm -rf "$tmp"' EXIT

version=$(apt-cache policy "$pkg" 2>/dev/null | sed -n 's/^  Candidate: //p')
if [[ -z $version || $version == '(none)' ]]; then
	apt-get update -q >&2 || true
	version=$(apt-cache policy "$pkg" 2>/dev/null | sed -n 's/^  Candidate: //p')
fi
[[ -n $version && $version != '(none)' ]] || { echo "linux-source.sh: apt knows no $pkg" >&2; exit 1; }

out=$dir/$pkg.tar.xz stamp=$dir/$pkg.version
if [[ ! -s $out || "$(cat "$stamp" 2>/dev/null)" != "$version" ]]; then
	mkdir -p "$dir"
	tmp=$(mktemp -d "$dir/.fetch.XXXXXX")
	(cd "$tmp" && apt-get download -q "$pkg=$version" >&2) ||
		{ echo "linux-source.sh: apt-get download $pkg=$version failed" >&2; exit 1; }
	deb=$(ls "$tmp"/*.deb)
	dpkg-deb --fsys-tarfile "$deb" | tar -xf - -C "$tmp" "./usr/src/$pkg.tar.xz" ||
		{ echo "linux-source.sh: no usr/src/$pkg.tar.xz in $deb" >&2; exit 1; }
	mv "$tmp/usr/src/$pkg.tar.xz" "$out.tmp.$$"
	echo "$version" >"$stamp.tmp.$$"
	mv "$out.tmp.$$" "$out"
	mv "$stamp.tmp.$$" "$stamp"
fi
echo "$out"
