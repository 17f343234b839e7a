#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetch Debian's newest 6.1 (known-bad) and 6.12 (known-good) kernels of an
# architecture (amd64, or arm64) with apt-get download, keep only their
# vmlinuz in a cache outside the repo and print "known-bad PATH" and
# "known-good PATH".
set -euo pipefail

# shellcheck source=vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/uffd-collapse-suite/kernels
ARCH=amd64

usage() {
	cat <<USAGE
Usage: ${0##*/} [--arch amd64|arm64] [--cache DIR]

Download (no install) the newest linux-image-6.1.*-ARCH-unsigned and
linux-image-6.12.*-ARCH-unsigned packages known to apt, extract their vmlinuz
into DIR as vmlinuz-6.1 and vmlinuz-6.12, with the exact
package and version in vmlinuz-SERIES.version, and print:
  known-bad  DIR/vmlinuz-6.1
  known-good DIR/vmlinuz-6.12
A cached image that is still the newest is not downloaded again.
Default ARCH: amd64. Default DIR: $CACHE (amd64), $CACHE/arm64 (arm64).
For arm64, apt must know the architecture (dpkg --add-architecture arm64;
apt-get update): as root this script does both if needed.
USAGE
}

# candidates SERIES: print "VERSION PACKAGE" for each generic (not cloud, not
# rt) unsigned ARCH image of that series.
candidates() {
	local re="^linux-image-${1//./\\.}\\.[0-9][^ ]*-$ARCH-unsigned\$"
	apt-cache search --names-only "$re" | awk '{print $1}' |
		grep -E "$re" | grep -Ev -- "-(cloud|rt)-$ARCH" |
		xargs -r apt-cache policy |
		awk '/^[^ ]/ {p = $1; sub(/:$/, "", p); sub(/:[a-z0-9]+$/, "", p)} $1 == "Candidate:" && $2 != "(none)" {print $2, p}'
}

# newest: read "VERSION PACKAGE" lines, print the one with the highest version.
newest() {
	local v p best=
	while read -r v p; do
		if [[ -z $best ]] || dpkg --compare-versions "$v" gt "${best%% *}"; then
			best="$v $p"
		fi
	done
	printf '%s\n' "$best"
}

# download PACKAGE VERSION DEST: extract /boot/vmlinuz-* from the .deb to DEST.
download() {
	local tmp
	mktempdir tmp
	(cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$1:$ARCH=$2" >&2)
	dpkg-deb --fsys-tarfile "$tmp"/*.deb |
		tar -xf - -C "$tmp" --wildcards './boot/vmlinuz-*'
	mv -f "$tmp"/boot/vmlinuz-* "$3"
	rm -rf -- "$tmp"
}

# fetch SERIES: make CACHE/vmlinuz-SERIES the newest image of SERIES.
fetch() {
	local link=$CACHE/vmlinuz-$1 best pkg ver file
	best=$(candidates "$1" | newest)
	if [[ -z $best ]]; then
		[[ -e $link ]] || die "apt knows no linux-image-$1.*-$ARCH-unsigned (apt-get update?)"
		log "apt knows no $1 kernel, using cached $(cat "$link.version")"
		return
	fi
	ver=${best%% *} pkg=${best#* }
	if [[ -e $link && $(cat "$link.version" 2>/dev/null) == "$pkg $ver" ]]; then
		log "cached: $pkg $ver"
		return
	fi
	log "downloading $pkg $ver"
	file=vmlinuz-${pkg#linux-image-}
	file=${file%-unsigned}-$ver
	download "$pkg" "$ver" "$CACHE/$file"
	ln -sfn "$file" "$link"
	printf '%s %s\n' "$pkg" "$ver" >"$link.version"
}

main() {
	while (($#)); do
		case $1 in
		--cache) (($# >= 2)) || { usage >&2; exit 2; }; CACHE=$2 cache_set=1; shift 2 ;;
		--arch) (($# >= 2)) || { usage >&2; exit 2; }; ARCH=$2; shift 2 ;;
		-h | --help) usage; exit 0 ;;
		*) usage >&2; exit 2 ;;
		esac
	done
	[[ $ARCH == amd64 || $ARCH == arm64 ]] || { usage >&2; exit 2; }
	[[ $ARCH == amd64 || -n ${cache_set-} ]] || CACHE=$CACHE/$ARCH
	[[ $ARCH == amd64 ]] || ensure_arch "$ARCH"
	mkdir -p "$CACHE"
	CACHE=$(cd "$CACHE" && pwd)
	fetch 6.1
	fetch 6.12
	printf 'known-bad %s\n' "$CACHE/vmlinuz-6.1"
	printf 'known-good %s\n' "$CACHE/vmlinuz-6.12"
}

main "$@"
