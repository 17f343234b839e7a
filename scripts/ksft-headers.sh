#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Extract the kselftest harness headers (kselftest_harness.h, kselftest.h)
# from Debian's PACKAGE source tarball into DEST.
# Usage: ksft-headers.sh PACKAGE DEST
# The tarball comes from scripts/linux-source.sh (the suite's cache, fetched
# with apt-get download when missing; /usr/src is never read). The headers
# are extracted, never kept in the repository.
# Guarantees: each header in DEST is whole (renamed into place); every failure
# prints one line on stderr saying what is missing and how to get it.
set -eEuo pipefail

PROG=ksft-headers.sh
die() { echo "$PROG: $*" >&2; exit 1; }
tmp=''
trap '[ -z "$tmp" ] || rm -rf "$tmp"' EXIT
trap 'die "unexpected failure at line $LINENO: $BASH_COMMAND"' ERR

[ $# -eq 2 ] || { echo "usage: $PROG PACKAGE DEST" >&2; exit 2; }
pkg=$1 dest=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# need_xz: xz, which tar needs for the tarball; apt-get installed (xz-utils,
# bounded waits) when missing and root.
need_xz()
{
	command -v xz >/dev/null && return 0
	{ [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; } ||
		die "no xz to read the $pkg tarball: run 'apt-get install xz-utils' as root, or pass KDIR=<kernel tree>"
	{ DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q \
		-o DPkg::Lock::Timeout=300 xz-utils >&2 && command -v xz >/dev/null; } ||
		die "no xz, and 'apt-get install xz-utils' failed (apt's messages above): install it, or pass KDIR=<kernel tree>"
}

# linux-source.sh has printed why on stderr.
tarball=$("$here/linux-source.sh" "$pkg") || exit 1
need_xz
ver=$(cat "${tarball%.tar.xz}.version")
top=$(basename "$tarball" .tar.xz)
mkdir -p "$dest" || die "cannot create $dest"
tmp=$(mktemp -d "$dest/.ksft.XXXXXX")
tar -xJf "$tarball" -C "$tmp" \
	"$top/tools/testing/selftests/kselftest_harness.h" \
	"$top/tools/testing/selftests/kselftest.h" 2>"$tmp/tar.log" ||
	die "cannot extract the kselftest headers from $tarball ($(tail -n 1 "$tmp/tar.log")): delete it to fetch it again, or pass KDIR=<kernel tree>"
for h in kselftest_harness.h kselftest.h; do
	mv -f "$tmp/$top/tools/testing/selftests/$h" "$dest/$h"
done
echo "kselftest headers from $tarball ($pkg $ver)" >&2
