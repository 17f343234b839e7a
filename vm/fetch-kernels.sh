#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetch Debian's newest 6.1 (known-bad) and 6.12 (known-good) amd64 kernels
# with apt-get download, keep only their vmlinuz in a cache outside the repo
# and print "known-bad PATH" and "known-good PATH".
set -euo pipefail

# shellcheck source=vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/uffd-collapse-suite/kernels

usage() {
	cat <<USAGE
Usage: ${0##*/} [--cache DIR]

Download (no install) the newest linux-image-6.1.*-amd64-unsigned and
linux-image-6.12.*-amd64-unsigned packages known to apt, extract their vmlinuz
into DIR as vmlinuz-6.1 and vmlinuz-6.12, with the exact
package and version in vmlinuz-SERIES.version, and print:
  known-bad  DIR/vmlinuz-6.1
  known-good DIR/vmlinuz-6.12
A cached image that is still the newest is not downloaded again.
Default DIR: $CACHE
USAGE
}

# candidates SERIES: print "VERSION PACKAGE" for each generic (not cloud, not
# rt) unsigned amd64 image of that series.
candidates() {
	local re="^linux-image-${1//./\\.}\\.[0-9][^ ]*-amd64-unsigned\$"
	apt-cache search --names-only "$re" | awk '{print $1}' |
		grep -E "$re" | grep -Ev -- '-(cloud|rt)-amd64' |
		xargs -r apt-cache policy |
		awk '/^[^ ]/ {p = $1; sub(/:$/, "", p)} $1 == "Candidate:" && $2 != "(none)" {print $2, p}'
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
	(cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$1=$2" >&2)
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
		[[ -e $link ]] || die "apt knows no linux-image-$1.*-amd64-unsigned (apt-get update?)"
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
		--cache) (($# >= 2)) || { usage >&2; exit 2; }; CACHE=$2; shift 2 ;;
		-h | --help) usage; exit 0 ;;
		*) usage >&2; exit 2 ;;
		esac
	done
	mkdir -p "$CACHE"
	CACHE=$(cd "$CACHE" && pwd)
	fetch 6.1
	fetch 6.12
	printf 'known-bad %s\n' "$CACHE/vmlinuz-6.1"
	printf 'known-good %s\n' "$CACHE/vmlinuz-6.12"
}

main "$@"
