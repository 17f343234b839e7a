#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Extract the kselftest harness headers from Debian's linux-source tarball.
# Usage: ksft-headers.sh PACKAGE DEST
# Uses the newest /usr/src/linux-source-*.tar.xz; installs PACKAGE if none
# is there (as root). The headers are extracted, never kept in the repo.
set -euo pipefail

pkg=${1:?usage: ksft-headers.sh PACKAGE DEST}
dest=${2:?usage: ksft-headers.sh PACKAGE DEST}

newest_tarball()
{
	ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -n 1
}

tarball=$(newest_tarball)
if [ -z "$tarball" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "no /usr/src/linux-source-*.tar.xz: install $pkg or pass KDIR=<kernel tree>" >&2
		exit 1
	fi
	apt-get install -y -q "$pkg" >&2 || {
		apt-get update -q >&2 && apt-get install -y -q "$pkg" >&2
	}
	tarball=$(newest_tarball)
fi

top=$(basename "$tarball" .tar.xz)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tar -xJf "$tarball" -C "$tmp" \
	"$top/tools/testing/selftests/kselftest_harness.h" \
	"$top/tools/testing/selftests/kselftest.h"
mkdir -p "$dest"
cp "$tmp/$top/tools/testing/selftests/"kselftest*.h "$dest/"
echo "kselftest headers from $tarball" >&2
