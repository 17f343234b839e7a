# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Shared helpers for the vm/ scripts. Source it; do not run it.

log() { printf 'vm: %s\n' "$*" >&2; }
die() { log "error: $*"; exit "${DIE_STATUS:-1}"; }

# ensure_pkgs PKG...: apt-get install the Debian packages that are missing.
ensure_pkgs() {
	local p missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing+=("$p")
	done
	((${#missing[@]})) || return 0
	((EUID == 0)) || die "missing packages (need root to install): ${missing[*]}"
	log "installing ${missing[*]}"
	apt_install "${missing[@]}" || { apt-get update -q >&2 && apt_install "${missing[@]}"; } ||
		die "cannot install ${missing[*]}"
}

apt_install() {
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2
}

# mktempdir VAR: create a temp dir under /tmp and store its path in VAR.
# When the script exits, the processes named by DIR/*.pid are killed and the
# dir is removed. One per script: each call replaces the EXIT trap.
mktempdir() {
	local d
	d=$(mktemp -d "${TMPDIR:-/tmp}/uffd-vm.XXXXXX")
	printf -v "$1" '%s' "$d"
	# shellcheck disable=SC2064 # expand now: the path is fixed
	trap "cleanup_tempdir '$d'" EXIT
}

cleanup_tempdir() {
	local f
	for f in "$1"/*.pid; do
		[[ -s $f ]] && kill "$(<"$f")" 2>/dev/null
	done
	rm -rf -- "$1"
}
