#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Mutation check: build the kernel with each mutation of vm/mutations (one
# broken clause of the guarantee each), boot it with the whole suite in
# vm/run.sh, and print which tests caught it (a kill matrix). The pristine
# kernel is built and run first: it must pass, or nothing else counts.
#
# The kernel tree (KSRC) is never written. The mutations are applied to a
# copy of it in the cache (WORK), which rsync brings back to KSRC's contents
# at the start of every run, and which the EXIT trap restores after every
# mutant, on Ctrl-C and on failure too. Mutating a copy is the safer way:
# a trap cannot run on SIGKILL, an OOM kill or a power cut, and then only
# the copy is left mutated, and the next run heals it before building.
set -euo pipefail

# shellcheck source=vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/uffd-collapse-suite
BASE=$CACHE/mutants
WORK=$BASE/tree
JOURNAL=$BASE/mutated-files
PKG=linux-source-6.12
MUTATIONS=$REPO/vm/mutations
KSRC='' OUT='' DEBUG_VM=n REPEAT=1 KEEP_BUILD=1 CHECK_ONLY='' LIST_ONLY=''
JOBS=$(nproc) TIMEOUT=480
SELECT=() FLAKY=() TESTS=()
DIE_STATUS=2 # a setup error is not a verdict on the kernel
CHILD='' APPLIED='' SUMMARY_DONE='' MODES=()
BOOT_TESTS=()
declare -A N_FIRST=() # --debug-vm both: each mutant's first failing test with n

usage() {
	cat <<USAGE
Usage: ${0##*/} [options]

Builds the pristine kernel and each mutant of $MUTATIONS
(tinyconfig + vm/bisect.config + the suite's config, out of tree, one
reused build directory per CONFIG_DEBUG_VM value), boots each with
vm/run.sh --numa-nodes 2 and the whole default suite, and prints the kill
matrix. Needs root (apt-get of what is missing, qemu).

  --ksrc DIR          kernel tree (never written; default: Debian's $PKG,
                      fetched by scripts/linux-source.sh and extracted once
                      into $CACHE/src)
  -m, --mutant NAME   run only NAME (repeatable, or NAME,NAME,...)
  -r, --repeat N      boot each mutant N times and report its kill rate
                      (race mutants are probabilistic; default 1)
  -t, --test TEST     run only TEST in each boot, the pristine one too
                      (run_tests.sh -t: FIXTURE.VARIANT.TEST or a test name;
                      repeatable): a race mutant's kill rate over many boots
                      in minutes, not hours
  --debug-vm y|n|both CONFIG_DEBUG_VM of the builds (default n; both: every
                      mutant is built and run with each: with n, the whole
                      suite; with y, the test that first failed with n, and
                      the whole suite if that test passes or n did not
                      kill it)
  --drop-build        remove the build directories at the end (default: keep
                      them in $BASE, so the next run is incremental)
  -o, --out DIR       output directory (default: $REPO/build/mutants/DATE):
                      matrix.tsv, per-run console and vm/run.sh logs,
                      build logs, each mutant's diff
  --timeout S         vm/run.sh --timeout per boot (default $TIMEOUT)
  --jobs N            make -j N (default $JOBS)
  --mutations FILE    the table of mutations (default $MUTATIONS)
  --flaky GLOB        a failure of a test matching GLOB (BINARY/FIXTURE.VARIANT.TEST,
                      shell pattern; repeatable) neither kills a mutant nor
                      fails the pristine kernel; it is still listed
  --check             only check that every mutation applies exactly (print
                      its diff); no build, no boot
  -l, --list          list the mutations and their clauses
  -h, --help          this help

A mutation marked "equivalent" in the table (no test of the guarantee can
tell it from the pristine kernel) is listed, not run, unless named by -m.
A run is "killed" when the suite failed for a test-level reason (vm/run.sh
exit 1 with failing tests, or failing tests before the guest died or timed
out). A kernel that did not boot or died (exit 125) with no failing test,
or that printed a splat with no failing test, is a "crash"; a mutation
that does not match its count is "stale"; one that does not build is
"unbuildable". With -r N, a mutant counts as killed if any run killed it;
its kill rate is printed.

Exit: 0 the pristine kernel passed and every mutant was killed; 1 the
pristine kernel failed, or a mutant survived, crashed, was stale or
unbuildable; 2 usage or setup error; 130/143 interrupted.
USAGE
}

bad_usage() { [[ -z ${1-} ]] || log "$1"; usage >&2; exit 2; }

parse_args() {
	local m
	while (($#)); do
		case $1 in
		-h | --help) usage; exit 0 ;;
		--ksrc) (($# >= 2)) || bad_usage; KSRC=$2; shift 2 ;;
		-m | --mutant)
			(($# >= 2)) || bad_usage
			IFS=, read -ra m <<<"$2"
			SELECT+=("${m[@]}")
			shift 2 ;;
		-r | --repeat) [[ ${2-} =~ ^[1-9][0-9]*$ ]] || bad_usage "bad --repeat"; REPEAT=$2; shift 2 ;;
		--debug-vm) [[ ${2-} =~ ^(y|n|both)$ ]] || bad_usage "bad --debug-vm"; DEBUG_VM=$2; shift 2 ;;
		--drop-build) KEEP_BUILD=''; shift ;;
		-o | --out) (($# >= 2)) || bad_usage; OUT=$2; shift 2 ;;
		--timeout) [[ ${2-} =~ ^[1-9][0-9]*$ ]] || bad_usage "bad --timeout"; TIMEOUT=$2; shift 2 ;;
		--jobs) [[ ${2-} =~ ^[1-9][0-9]*$ ]] || bad_usage "bad --jobs"; JOBS=$2; shift 2 ;;
		--mutations) (($# >= 2)) || bad_usage; MUTATIONS=$2; shift 2 ;;
		--flaky) (($# >= 2)) || bad_usage; FLAKY+=("$2"); shift 2 ;;
		-t | --test) (($# >= 2)) || bad_usage; TESTS+=(-t "$2"); shift 2 ;;
		--check) CHECK_ONLY=1; shift ;;
		-l | --list) LIST_ONLY=1; shift ;;
		*) bad_usage "unknown option: $1" ;;
		esac
	done
}

# --- the table of mutations ---------------------------------------------------

# parse_mutations FILE DIR: fill NAMES, FILES and CLAUSES, and write each
# mutation's hunks to DIR/NAME/N.old, N.new, N.count. Dies on a malformed
# table, naming the line.
parse_mutations() {
	local file=$1 dir=$2 line n=0 name='' h=0 state='' count=1 f
	declare -gA SEEN=()
	NAMES=() FILES=() CLAUSES=() EQUIV=()
	while IFS= read -r line || [[ -n $line ]]; do
		n=$((n + 1))
		case $line in
		'#'*) continue ;;
		'') name='' state=''; continue ;;
		mutant' '*)
			read -r _ name f extra <<<"$line"
			[[ -z ${extra-} && $name =~ ^[A-Za-z0-9_.-]+$ && -n $f && $f != /* && $f != *..* ]] ||
				die "$file:$n: expected 'mutant NAME FILE'"
			[[ -z ${SEEN[$name]-} ]] || die "$file:$n: mutant $name defined twice"
			SEEN[$name]=1
			NAMES+=("$name") FILES+=("$f") CLAUSES+=('') EQUIV+=('')
			h=0 state='' count=1
			mkdir -p "$dir/$name" ;;
		clause' '*)
			[[ -n $name ]] || die "$file:$n: 'clause' outside a mutant"
			local i=$((${#NAMES[@]} - 1))
			CLAUSES[i]+="${CLAUSES[i]:+; }${line#clause }" ;;
		equivalent' '*)
			[[ -n $name ]] || die "$file:$n: 'equivalent' outside a mutant"
			EQUIV[${#NAMES[@]} - 1]=${line#equivalent } ;;
		'@@'*)
			[[ -n $name ]] || die "$file:$n: '@@' outside a mutant"
			count=${line#@@}
			count=${count// /}
			[[ -z $count ]] && count=1
			[[ $count =~ ^[1-9][0-9]*$ ]] || die "$file:$n: bad hunk count"
			state=hunk ;;
		[-+]*)
			[[ -n $name ]] || die "$file:$n: a hunk line outside a mutant"
			if [[ $line == -* && $state != minus ]]; then
				h=$((h + 1))
				: >"$dir/$name/$h.old"
				: >"$dir/$name/$h.new"
				echo "$count" >"$dir/$name/$h.count"
				count=1
			fi
			[[ $line != +* || $state == minus || $state == plus ]] ||
				die "$file:$n: '+' lines must follow '-' lines"
			if [[ $line == -* ]]; then
				printf '%s\n' "${line:1}" >>"$dir/$name/$h.old"
				state=minus
			else
				local t=${line:1}
				[[ $t != ' '[^' '$'\t']* ]] || t=${t:1}
				printf '%s\n' "$t" >>"$dir/$name/$h.new"
				state=plus
			fi ;;
		*) die "$file:$n: cannot parse: $line" ;;
		esac
	done <"$file"
	((${#NAMES[@]})) || die "$file: no mutations"
	for f in "${!NAMES[@]}"; do
		[[ -n ${CLAUSES[f]} ]] || die "$file: mutant ${NAMES[f]} has no clause"
		[[ -e $dir/${NAMES[f]}/1.old ]] || die "$file: mutant ${NAMES[f]} has no hunk"
	done
}

# apply_hunk IN OLD NEW COUNT OUTFILE: write IN with every match of OLD's
# lines replaced by NEW's to OUTFILE. Lines are compared without leading and
# trailing white space; a NEW line with no indentation of its own gets the
# first matched line's.
# Returns 3 and prints the number of matches if it is not COUNT.
apply_hunk() {
	awk -v oldf="$2" -v newf="$3" -v want="$4" '
		function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
		BEGIN {
			while ((getline l < oldf) > 0) o[++k] = trim(l)
			while ((getline l < newf) > 0) nw[++m] = l
		}
		{ L[++n] = $0 }
		END {
			i = 1
			while (i <= n) {
				ok = (i + k - 1 <= n)
				for (j = 1; ok && j <= k; j++)
					if (trim(L[i + j - 1]) != o[j]) ok = 0
				if (!ok) { out[++q] = L[i++]; continue }
				c++
				ind = L[i]; sub(/[^ \t].*$/, "", ind)
				for (j = 1; j <= m; j++)
					out[++q] = (nw[j] == "" || nw[j] ~ /^[ \t]/ ? "" : ind) nw[j]
				i += k
			}
			if (c + 0 != want) { print c + 0; exit 3 }
			for (j = 1; j <= q; j++) print out[j] > "/dev/stdout"
		}' "$1" >"$5.awk" || { local rc=$?; head -n 1 "$5.awk"; rm -f "$5.awk"; return "$rc"; }
	mv "$5.awk" "$5"
}

# mutate I SRC DEST: write mutation I of SRC to DEST (a new file). Returns 3
# and says why on stdout if a hunk did not match exactly.
mutate() {
	local i=$1 d=$MDIR/${NAMES[$1]} h=1 got tmp=$3.tmp
	cp -- "$2" "$tmp"
	while [[ -e $d/$h.old ]]; do
		if ! got=$(apply_hunk "$tmp" "$d/$h.old" "$d/$h.new" "$(<"$d/$h.count")" "$tmp.new"); then
			rm -f "$tmp" "$tmp.new"
			echo "hunk $h matches $got times, not $(<"$d/$h.count")"
			return 3
		fi
		mv "$tmp.new" "$tmp"
		h=$((h + 1))
	done
	mv "$tmp" "$3"
}

# --- the trees --------------------------------------------------------------

# default_ksrc: Debian's linux-source-6.12, extracted once into the cache.
default_ksrc() {
	local tarball top dest unpack
	tarball=$("$REPO/scripts/linux-source.sh" "$PKG") || die "cannot fetch $PKG"
	top=$(basename "$tarball" .tar.xz)
	dest=$CACHE/src/$top
	if [[ ! -f $dest/Makefile ]]; then
		log "extracting $tarball into $dest"
		mkdir -p "$CACHE/src"
		unpack=$(mktemp -d "$CACHE/src/.unpack.XXXXXX")
		tar -I 'xz -T0' -xf "$tarball" -C "$unpack" || { rm -rf "$unpack"; die "cannot extract $tarball"; }
		rm -rf "$dest"
		mv "$unpack/$top" "$dest"
		rm -rf "$unpack"
	fi
	KSRC=$dest
}

# sync_work: WORK holds KSRC's contents. Files whose contents differ are
# rewritten with a fresh mtime (no -t), so make rebuilds what they feed;
# identical files are left alone, so the build stays incremental.
sync_work() {
	mkdir -p "$WORK"
	rsync -rlpgoD --checksum --delete --exclude=/.git "$KSRC/" "$WORK/" ||
		die "rsync $KSRC -> $WORK failed"
	# A run that ended without its trap (SIGKILL) may have built objects
	# from a mutant after restoring: make those files newer than them.
	if [[ -s $JOURNAL ]]; then
		(cd "$WORK" && xargs -r touch -- <"$JOURNAL")
	fi
}

# restore: put back the file of the applied mutation (KSRC's copy, fresh
# mtime) and check it; prints a warning if it differs.
restore() {
	[[ -n $APPLIED ]] || return 0
	cp -- "$KSRC/$APPLIED" "$WORK/$APPLIED.restore" && mv -- "$WORK/$APPLIED.restore" "$WORK/$APPLIED"
	if cmp -s -- "$KSRC/$APPLIED" "$WORK/$APPLIED"; then
		APPLIED=''
	else
		log "WARNING: $WORK/$APPLIED could not be restored: the next run heals it (rsync)"
	fi
}

# stop_child: end the build or the VM we started, by its id, and wait.
stop_child() {
	[[ -n $CHILD ]] || return 0
	kill -TERM -- "-$CHILD" 2>/dev/null || kill -TERM "$CHILD" 2>/dev/null || true
	wait "$CHILD" 2>/dev/null || true
	CHILD=''
}

on_exit() {
	local rc=$1
	rm -rf -- "$MDIR"
	stop_child
	restore
	if [[ -n ${OUT-} && -d $OUT && -n ${KSRC-} && -z $APPLIED ]]; then
		[[ -n $KEEP_BUILD ]] || drop_builds
	fi
	[[ -z $SUMMARY_DONE && $rc -ne 0 && -n ${OUT-} ]] && log "stopped (exit $rc); logs in $OUT"
	exit "$rc"
}

drop_builds() {
	local mode
	for mode in "${MODES[@]}"; do rm -rf -- "$BASE/build-debug-vm-$mode"; done
}

# run_bg COMMAND...: run it in its own process group, wait for it; RC is its
# status. The EXIT trap ends it if we are stopped meanwhile.
run_bg() {
	RC=0
	setsid "$@" &
	CHILD=$!
	wait "$CHILD" || RC=$?
	CHILD=''
}

# --- build and boot ---------------------------------------------------------

# build MODE LOGDIR: configure and build WORK in MODE's build dir; sets
# BUILD_S (seconds) and returns 1 (config) or 2 (build) on failure.
build() {
	local mode=$1 logs=$2 b=$BASE/build-debug-vm-$1 t0=$SECONDS frag
	frag=$b.config
	if [[ $mode == y ]]; then
		printf '%s\n' '# vm/mutants.sh: debug VM checks on' CONFIG_DEBUG_KERNEL=y CONFIG_DEBUG_VM=y >"$frag"
	else
		printf '%s\n' '# vm/mutants.sh: debug VM checks off' '# CONFIG_DEBUG_VM is not set' >"$frag"
	fi
	mkdir -p "$b"
	BUILD_S=0
	if ! kbuild_configure "$WORK" "$b" "$logs/config.log" "$REPO/vm/bisect.config" "$REPO/config" "$frag" 2>"$logs/config.missing"; then
		BUILD_S=$((SECONDS - t0))
		cat "$logs/config.missing" >>"$logs/config.log"
		return 1
	fi
	# shellcheck disable=SC2016 # expanded by the inner bash
	run_bg bash -c '. "$1" && kbuild_bzimage "$2" "$3" "$4" "$5"' _ "$REPO/vm/lib.sh" "$WORK" "$b" "$logs/build.log" "$JOBS"
	BUILD_S=$((SECONDS - t0))
	((RC == 0)) || return 2
	BZIMAGE=$b/arch/x86/boot/bzImage
}

# boot LOGDIR: vm/run.sh on BZIMAGE with the whole suite (or the tests of
# BOOT_TESTS, run_tests.sh -t arguments); sets VM_RC, SUITE_S.
boot() {
	local t0=$SECONDS
	VM_RC=0
	"$REPO/vm/run.sh" --kernel "$BZIMAGE" --numa-nodes 2 --timeout "$TIMEOUT" \
		--suite-dir "$SUITE" -- "${BOOT_TESTS[@]}" >"$1/console.log" 2>"$1/vm.log" &
	CHILD=$!
	wait "$CHILD" || VM_RC=$?
	CHILD=''
	SUITE_S=$((SECONDS - t0))
	((VM_RC < 128)) || die "vm/run.sh exit $VM_RC (setup error): see $1/vm.log"
}

# is_flaky TEST: TEST matches a --flaky pattern.
is_flaky() {
	local g
	for g in "${FLAKY[@]}"; do
		# shellcheck disable=SC2053 # a pattern
		[[ $1 != $g ]] || return 0
	done
	return 1
}

# classify LOGDIR: from VM_RC and the console, set OUTCOME (killed, survived,
# skipped, crash), FAILED (failing tests, in order, less --flaky ones),
# FLAKY_FAILED and FIRST.
classify() {
	local d=$1 t splat=''
	awk -f "$REPO/tests/ktap-results.awk" "$d/console.log" >"$d/results" || true
	FAILED='' FLAKY_FAILED=''
	while read -r t; do
		if is_flaky "$t"; then
			FLAKY_FAILED+=${FLAKY_FAILED:+,}$t
		else
			FAILED+=${FAILED:+,}$t
		fi
	done < <(awk '$2 == "FAIL" {print $1}' "$d/results")
	FIRST=${FAILED%%,*}
	grep -q 'KERNEL SPLAT' "$d/vm.log" && splat=1
	case $VM_RC in
	0) OUTCOME=survived ;;
	4) OUTCOME=skipped ;;
	1)	if [[ -n $FAILED ]]; then OUTCOME=killed
		elif [[ -z $splat && -n $FLAKY_FAILED ]]; then OUTCOME=survived
		else OUTCOME=crash # a splat and no failing test
		fi ;;
	*)	# A test failed before the guest died or timed out: that
		# failure is the suite's verdict (a kernel that hangs every
		# lookup of a range, say, times the tests out one by one).
		if [[ -n $FAILED ]]; then
			OUTCOME=killed FIRST+=" (then: $(crash_reason "$d"))"
		else
			OUTCOME=crash
		fi ;;
	esac
	[[ $OUTCOME != crash ]] || FIRST=$(crash_reason "$d")
}

# crash_reason LOGDIR: one line saying how the run died.
crash_reason() {
	local r
	r=$(grep -aE 'KERNEL SPLAT|timed out|did not boot|died during' "$1/vm.log" | head -n 1 | sed 's/^vm: //')
	[[ -n $r ]] || r="vm/run.sh exit $VM_RC, no failing test"
	printf '%s' "${r//$'\t'/ }"
}

# --- the matrix ---------------------------------------------------------------

tsv() { printf '%s\n' "$(IFS=$'\t'; echo "$*")" >>"$OUT/matrix.tsv"; }

# group TESTS: "fixture: test{variant,...} ..." from a comma list of
# BINARY/FIXTURE.VARIANT.TEST.
group() {
	tr , '\n' <<<"$1" | awk -F/ 'NF {
		n = split($2, p, ".")
		fx = p[1]; t = (n >= 3 ? p[3] : p[2]); v = (n >= 3 ? p[2] : "")
		k = fx "." t
		if (!(k in seen)) { seen[k] = 1; order[++no] = k; vars[k] = v }
		else if (v != "") vars[k] = vars[k] "," v
		if (!(fx in fseen)) { fseen[fx] = 1; forder[++nf] = fx }
	}
	END {
		for (f = 1; f <= nf; f++) {
			line = forder[f] ":"
			for (i = 1; i <= no; i++) {
				split(order[i], q, ".")
				if (q[1] != forder[f]) continue
				line = line " " q[2] "{" vars[order[i]] "}"
			}
			print line
		}
	}'
}

# --- main ---------------------------------------------------------------------

# run_one MODE I: build mutant I (or the pristine kernel, I = -1) and boot
# it REPEAT times (the pristine kernel once); print and record the result.
run_one() {
	local mode=$1 i=$2 name=pristine file='' r d why kills=0 runs=0 verdict outcomes=()
	((i < 0)) || { name=${NAMES[i]}; file=${FILES[i]}; }
	d=$OUT/debug-vm-$mode/$name
	mkdir -p "$d"
	if ((i >= 0)); then
		if [[ ! -f $WORK/$file ]]; then
			why="no file $file"
		elif ! why=$(mutate "$i" "$KSRC/$file" "$d/mutated"); then
			:
		else
			why=''
		fi
		if [[ -n $why ]]; then
			rm -f "$d/mutated"
			record "$mode" "$name" 1 stale 0 0 - "$why" ''
			return
		fi
		diff -u --label "a/$file" --label "b/$file" "$KSRC/$file" "$d/mutated" >"$d/mutation.diff" || true
		grep -qxF -- "$file" "$JOURNAL" 2>/dev/null || echo "$file" >>"$JOURNAL"
		APPLIED=$file
		mv -- "$d/mutated" "$WORK/$file"
	fi
	local brc=0
	build "$mode" "$d" || brc=$?
	if ((brc)); then
		restore
		if ((i < 0)); then
			tail -n 20 "$d/build.log" "$d/config.log" 2>/dev/null >&2 || true
			DIE_STATUS=1 die "the pristine kernel did not $( ((brc == 1)) && echo configure || echo build) (logs: $d)"
		fi
		record "$mode" "$name" 1 unbuildable "$BUILD_S" 0 - \
			"$( ((brc == 1)) && echo 'options did not take' || echo "build failed: $(grep -m1 -a 'error:' "$d/build.log" | tr '\t' ' ')")" ''
		return
	fi
	for ((r = 1; r <= (i < 0 ? 1 : REPEAT); r++)); do
		local rd=$d
		((REPEAT == 1 || i < 0)) || { rd=$d/run$r; mkdir -p "$rd"; }
		boot_mutant "$mode" "$name" "$rd"
		record "$mode" "$name" "$r" "$OUTCOME" "$BUILD_S" "$SUITE_S" "$VM_RC" "$FIRST" "$FAILED" "$FLAKY_FAILED"
		runs=$((runs + 1))
		[[ $OUTCOME != killed ]] || kills=$((kills + 1))
		outcomes+=("$OUTCOME")
		if ((i < 0)) && [[ $OUTCOME != survived ]]; then
			PRISTINE_FAILED="debug-vm=$mode: $OUTCOME ($FIRST)"
		fi
	done
	restore
	if ((i >= 0 && REPEAT > 1)); then
		verdict=survived
		((kills == 0)) || verdict=killed
		((kills > 0)) || [[ ! " ${outcomes[*]} " =~ " crash " ]] || verdict=crash
		RATES+=("$mode	$name	$kills/$runs	$verdict")
	fi
}

# boot_mutant MODE NAME LOGDIR: boot and classify one run. With --debug-vm
# both, a mutant that n killed is booted with y and only the test that
# first failed with n: what y is for is a check (VM_BUG_ON(), a debug-only
# path) that hides the bug the test caught, and one test that still fails
# is a kill. If that test passes, the whole suite runs, as it does for a
# mutant that n did not kill and for the pristine kernel.
boot_mutant() {
	local mode=$1 name=$2 d=$3 first=${N_FIRST[$2]-} first_s=0
	BOOT_TESTS=("${TESTS[@]}")
	if [[ $mode == y && $DEBUG_VM == both && $name != pristine && -n $first ]]; then
		BOOT_TESTS=(-t "$first")
		boot "$d"
		classify "$d"
		[[ $OUTCOME != killed ]] || { FIRST+=" (y: only this test run)"; return 0; }
		log "$name [debug_vm=y]: $first did not fail ($OUTCOME): the whole suite"
		mv "$d/console.log" "$d/console-first.log"
		mv "$d/vm.log" "$d/vm-first.log"
		BOOT_TESTS=("${TESTS[@]}")
		first_s=$SUITE_S
	fi
	boot "$d"
	classify "$d"
	SUITE_S=$((SUITE_S + first_s))
	# The test to rerun with y: FIXTURE.VARIANT.TEST, without the binary
	# and what ended the guest.
	if [[ $mode == n && $OUTCOME == killed && -z $first ]]; then
		first=${FIRST%% *}
		N_FIRST[$name]=${first#*/}
	fi
}

# record MODE NAME RUN OUTCOME BUILD_S SUITE_S RC FIRST FAILED [FLAKY]: one
# row of the matrix (TSV) and one block on stdout.
record() {
	local mode=$1 name=$2 run=$3 outcome=$4 bs=$5 ss=$6 rc=$7 first=$8 failed=$9 flaky=${10-}
	[[ $name != pristine || $outcome != survived ]] || outcome=passed
	tsv "$mode" "$name" "$run" "$outcome" "$bs" "$ss" "$rc" "${first:--}" "${failed:--}" "${flaky:--}"
	printf '%-34s %-11s run %s  build %4ss  suite %4ss  first: %s\n' \
		"$name${mode:+ [debug_vm=$mode]}" "$outcome" "$run" "$bs" "$ss" "${first:--}"
	[[ -z $failed ]] || group "$failed" | sed 's/^/      /'
	[[ -z $flaky ]] || group "$flaky" | sed 's/^/      (--flaky) /'
}

# summary: the per-mutant verdicts and the count line; sets the exit status.
summary() {
	local k=0 s=0 st=0 c=0 e=0 line mode name verdict
	echo
	echo "# kill matrix: $OUT/matrix.tsv"
	if ((REPEAT > 1)); then
		echo "# kill rate per mutant over $REPEAT runs:"
		for line in "${RATES[@]}"; do printf '#   %s\n' "$line"; done
	fi
	# One verdict per (mode, mutant): killed if any run killed it.
	while IFS=$'\t' read -r mode name verdict; do
		case $verdict in
		killed) k=$((k + 1)) ;;
		survived | skipped) s=$((s + 1)); SURVIVORS+=("$name [debug_vm=$mode] ($verdict)") ;;
		stale | unbuildable) st=$((st + 1)); SURVIVORS+=("$name [debug_vm=$mode] ($verdict)") ;;
		crash) c=$((c + 1)); SURVIVORS+=("$name [debug_vm=$mode] (crash)") ;;
		equivalent) e=$((e + 1)) ;;
		esac
	done < <(awk -F'\t' 'NR > 1 && $2 != "pristine" {
			key = $1 "\t" $2
			if (!(key in v)) order[++n] = key
			if ($4 == "killed" || !(key in v) || (v[key] != "killed" && $4 == "crash")) v[key] = $4
		} END { for (i = 1; i <= n; i++) print order[i] "\t" v[order[i]] }' "$OUT/matrix.tsv")
	if ((${#SURVIVORS[@]})); then
		echo "# not killed:"
		printf '#   %s\n' "${SURVIVORS[@]}"
	fi
	echo "$k killed, $s survived, $st stale/unbuildable, $c crashed, $e equivalent (not run) (total $((SECONDS - T_START)) s)"
	SUMMARY_DONE=1
	[[ -z $PRISTINE_FAILED ]] || { echo "FAIL: the pristine kernel failed: $PRISTINE_FAILED"; return 1; }
	((s + st + c == 0))
}

prebuild_suite() {
	local b=$OUT/suite-build
	ensure_pkgs make gcc libc6-dev
	make -s -C "$REPO" STATIC=1 OUTPUT="$b" KDIR="$KSRC" >"$OUT/suite-build.log" 2>&1 ||
		{ tail -n 20 "$OUT/suite-build.log" >&2; die "the suite did not build (static)"; }
	SUITE=$OUT/suite
	mkdir -p "$SUITE"
	find "$b" -maxdepth 1 -type f -perm -u+x -exec cp -t "$SUITE" {} +
	cp -a "$REPO/run_tests.sh" "$SUITE/"
	[[ ! -e $REPO/settings ]] || cp -a "$REPO/settings" "$SUITE/"
}

main() {
	local i mode t0 sel=() s found
	parse_args "$@"
	T_START=$SECONDS
	[[ -r $MUTATIONS ]] || die "no table of mutations: $MUTATIONS"
	MDIR=$(mktemp -d "${TMPDIR:-/tmp}/uffd-mutants.XXXXXX")
	trap 'on_exit $?' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	parse_mutations "$MUTATIONS" "$MDIR"
	for s in "${SELECT[@]}"; do
		found=''
		for i in "${!NAMES[@]}"; do [[ ${NAMES[i]} != "$s" ]] || { sel+=("$i"); found=1; }; done
		[[ -n $found ]] || bad_usage "no mutation named $s in $MUTATIONS"
	done
	((${#sel[@]})) || sel=("${!NAMES[@]}")
	if [[ -n $LIST_ONLY ]]; then
		for i in "${sel[@]}"; do
			printf '%s\t%s\t%s%s\n' "${NAMES[i]}" "${FILES[i]}" "${CLAUSES[i]}" \
				"${EQUIV[i]:+ (equivalent: ${EQUIV[i]})}"
		done
		exit 0
	fi
	[[ -n $KSRC ]] || default_ksrc
	KSRC=$(cd "$KSRC" && pwd) || die "no kernel tree $KSRC"
	[[ -f $KSRC/Makefile && -f $KSRC/scripts/kconfig/merge_config.sh && -d $KSRC/arch/x86 ]] ||
		die "$KSRC is not a kernel tree"
	[[ ! -e $KSRC/.config && ! -d $KSRC/include/config ]] ||
		die "$KSRC is not clean (.config): run make mrproper; builds go to $BASE"
	if [[ -n $CHECK_ONLY ]]; then
		local bad=0 tmp why
		tmp=$(mktemp "${TMPDIR:-/tmp}/uffd-mutant.XXXXXX")
		for i in "${sel[@]}"; do
			if [[ ! -f $KSRC/${FILES[i]} ]]; then
				echo "STALE ${NAMES[i]}: no file ${FILES[i]}"; bad=1
			elif why=$(mutate "$i" "$KSRC/${FILES[i]}" "$tmp"); then
				echo "ok ${NAMES[i]} (${FILES[i]})"
				diff -u --label "a/${FILES[i]}" --label "b/${FILES[i]}" "$KSRC/${FILES[i]}" "$tmp" || true
			else
				echo "STALE ${NAMES[i]}: $why"; bad=1
			fi
		done
		rm -f "$tmp"
		exit "$bad"
	fi
	((EUID == 0)) || die "run as root (qemu, apt-get)"
	ensure_pkgs make gcc libc6-dev bc bison flex libelf-dev libssl-dev xz-utils rsync \
		qemu-system-x86 busybox-static cpio
	MODES=(n)
	[[ $DEBUG_VM != y ]] || MODES=(y)
	[[ $DEBUG_VM != both ]] || MODES=(n y)
	OUT=${OUT:-$REPO/build/mutants/$(date -u +%Y%m%d-%H%M%S)}
	mkdir -p "$OUT" "$BASE" && OUT=$(cd "$OUT" && pwd)
	exec 8>"$BASE/.lock"
	flock -w 5 8 || die "another vm/mutants.sh uses $BASE"
	tsv debug_vm mutant run outcome build_s suite_s vm_rc first_failure failed_tests flaky_failed_tests
	RATES=() SURVIVORS=() PRISTINE_FAILED=''
	log "kernel tree $KSRC -> $WORK; output $OUT"
	t0=$SECONDS
	sync_work
	log "tree synced in $((SECONDS - t0)) s"
	prebuild_suite
	for mode in "${MODES[@]}"; do
		if [[ -e $BASE/build-debug-vm-$mode/arch/x86/boot/bzImage ]]; then
			log "debug_vm=$mode: pristine kernel (incremental build in $BASE/build-debug-vm-$mode)"
		else
			log "debug_vm=$mode: pristine kernel (a full build in $BASE/build-debug-vm-$mode)"
		fi
		run_one "$mode" -1
		[[ -z $PRISTINE_FAILED ]] || break
		: >"$JOURNAL"
		for i in "${sel[@]}"; do
			# An equivalent mutant runs only when asked for by name.
			if [[ -n ${EQUIV[i]} && ${#SELECT[@]} -eq 0 ]]; then
				record "$mode" "${NAMES[i]}" 1 equivalent 0 0 - "${EQUIV[i]}" ''
				continue
			fi
			run_one "$mode" "$i"
		done
	done
	summary
}

main "$@"
