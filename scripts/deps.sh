#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Install the Debian packages the build links against, if missing and root:
# liburing-dev (io_uring tests) and libnuma-dev (NUMA tests). Without them
# the build still works and those tests SKIP saying so.
pkgs=
for p in liburing-dev libnuma-dev; do
	dpkg -s "$p" >/dev/null 2>&1 || pkgs="$pkgs $p"
done
[ -n "$pkgs" ] || exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
	echo "missing$pkgs: the tests that need them will SKIP" >&2
	exit 0
fi
# shellcheck disable=SC2086
{ apt-get install -y -q $pkgs || { apt-get update -q && apt-get install -y -q $pkgs; }; } >&2
