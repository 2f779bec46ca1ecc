#!/usr/bin/env bash
# test/run.sh: the project's test command (`bash test/run.sh`; as root, or as a
# user who can write to the PostgreSQL install directories).
#
# Installs missing packages, copies the tree to a temporary directory owned by
# postgres, builds and installs goodjob, starts a throwaway cluster with the
# library preloaded, and runs three stages through `make installcheck`:
# regression (pg_regress), isolation (pg_isolation_regress) and TAP (prove);
# then a fourth, compare: `bench/compare --quick` (the benchmark scripts, on a
# throwaway cluster of their own, so that they cannot silently rot).
# Settings in test/cluster.conf, if that file exists, are added to the
# cluster's postgresql.conf (TAP tests configure their own clusters).
# A failing stage does not stop the others; its diffs or logs are printed.
# The output ends with one line "N passed, N failed"; the exit status is
# non-zero if anything failed or if no test ran.
#
# What counts as one test: a pg_regress test file, an isolation spec, a TAP
# assertion (prove's "Tests=" count), the whole compare stage (it passes if
# every part of bench/compare produced its figures and charts). A TAP file
# that dies without a failing assertion, or a stage that fails without
# reporting a failed test (build error, no server, timeout), counts as one
# failure.
#
# Environment:
#   GOODJOB_TEST_PORT      port of the throwaway cluster (default 54321)
#   GOODJOB_STAGE_TIMEOUT  seconds allowed per stage (default 180, TAP 300)
#   GOODJOB_KEEP=1         keep the temporary directory even on success

set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

PORT=${GOODJOB_TEST_PORT:-54321}
STAGES=()                      # stage names, in the order they ran
declare -A PASSED FAILED NOTE  # per stage

# record STAGE PASSED FAILED [NOTE]
record() {
	STAGES+=("$1")
	PASSED[$1]=$2
	FAILED[$1]=$3
	NOTE[$1]=${4:-}
}

# Print the end of FILE under a heading, if it is not empty.
show_file() {
	local file=$1 lines=${2:-300}
	[[ -s $file ]] || return 0
	printf '\n----- %s (last %s lines) -----\n' "$file" "$lines"
	tail -n "$lines" "$file"
	printf -- '----- end of %s -----\n' "$file"
}

# run_make NAME TIMEOUT MAKE-ARGS...: run `make installcheck MAKE-ARGS` in the
# staged tree as postgres against the test cluster; output goes to the
# console and to $GOODJOB_WORKDIR/NAME.log. Sets RC, and TIMEOUT_NOTE if the
# stage ran out of time.
run_make() {
	local name=$1 limit=$2
	shift 2
	log "stage $name: make installcheck $*"
	run_logged "$GOODJOB_WORKDIR/$name.log" "$limit" "$STAGE" \
		env PGHOST="$SOCKDIR" PGPORT="$PORT" PGUSER=postgres PGDATABASE=postgres \
		make installcheck PG_CONFIG="$PG_CONFIG_BIN" "$@"
	TIMEOUT_NOTE=
	if [[ $RC -eq 124 || $RC -eq 137 ]]; then
		TIMEOUT_NOTE="timed out after ${limit}s"
		echo "stage $name $TIMEOUT_NOTE" | tee -a "$GOODJOB_WORKDIR/$name.log"
	fi
}

# Count pg_regress / pg_isolation_regress results in LOG: one line per test
# file, "test NAME ... ok" or "... FAILED" (PostgreSQL 15; "... diff: ..."
# when the expected file is missing and pg_regress gives up), or the TAP style
# "ok N - NAME" / "not ok N - NAME" of later versions. Prints "PASSED FAILED".
count_pg_regress() {
	awk '
		/\.\.\. (ok|failed \(ignored\))( |$)/ { p++; next }
		/\.\.\. (FAILED|diff:)/                 { f++; next }
		/^not ok [0-9]+ +[-+] /               { f++; next }
		/^ok [0-9]+ +[-+] /                   { p++; next }
		END { print p + 0, f + 0 }' "$1"
}

# Count prove results in LOG: "Files=N, Tests=M" gives the assertions run;
# each file in the "Test Summary Report" that failed assertions ("Failed: K")
# or died (non-zero exit or wait status, parse errors) adds K failures, at
# least one. Prints "PASSED FAILED BAD-FILE...".
count_prove() {
	awk '
		function close_block() {
			if (bad) { f += (k > 0 ? k : 1); files = files " " file }
			sub_failed += k; bad = 0; k = 0
		}
		/^Test Summary Report/ { in_report = 1; next }
		in_report && /\(Wstat: .*Tests: [0-9]+ Failed: [0-9]+\)/ {
			close_block()
			file = $1
			match($0, /Failed: [0-9]+/); k = substr($0, RSTART + 8, RLENGTH - 8) + 0
			if (k > 0) bad = 1
			next
		}
		in_report && /(Non-zero exit status|Non-zero wait status|Parse errors)/ { bad = 1 }
		/^Files=[0-9]+, Tests=[0-9]+/ {
			close_block()
			in_report = 0
			match($0, /Tests=[0-9]+/); total = substr($0, RSTART + 6, RLENGTH - 6) + 0
		}
		END { close_block(); print total - sub_failed, f + 0 files }' "$1"
}

# Run a pg_regress-driven stage and record its counts; on failure show diffs.
# regress_stage NAME DIFFS-FILE MAKE-ARGS...
regress_stage() {
	local name=$1 diffs=$2 p f note=''
	shift 2
	rm -f "$diffs"
	run_make "$name" "${GOODJOB_STAGE_TIMEOUT:-180}" "$@"
	read -r p f < <(count_pg_regress "$GOODJOB_WORKDIR/$name.log")
	if [[ $RC -ne 0 ]] && ! grep -Eq 'tests? (passed|failed)' "$GOODJOB_WORKDIR/$name.log"; then
		note="stopped before the end (make status $RC); see $GOODJOB_WORKDIR/$name.log"
		((f > 0)) || f=1
	fi
	if [[ $f -gt 0 ]]; then
		show_file "$diffs" 400
	fi
	record "$name" "$p" "$f" "${TIMEOUT_NOTE:-$note}"
}

# Run the TAP stage and record its counts; on failure show the logs of the
# failed files (test/t/NAME.pl logs to tmp_check/log/regress_log_NAME and
# NAME_<node>.log), or all logs if the failed files are not known.
tap_stage() {
	local name=tap p f rest note='' bad_files=() t logs=()
	run_make "$name" "${GOODJOB_STAGE_TIMEOUT:-300}" REGRESS= ISOLATION=
	read -r p f rest < <(count_prove "$GOODJOB_WORKDIR/$name.log")
	read -r -a bad_files <<<"$rest"
	if [[ $RC -ne 0 && $f -eq 0 ]]; then
		f=1
		note="make exited with status $RC without a failed test; see $GOODJOB_WORKDIR/$name.log"
	fi
	if [[ $f -gt 0 ]]; then
		for t in "${bad_files[@]}"; do
			t=$(basename "$t" .pl)
			[[ -f $STAGE/tmp_check/log/regress_log_$t ]] ||
				echo "(no log for $t in $STAGE/tmp_check/log)"
			logs+=("$STAGE/tmp_check/log/regress_log_$t" "$STAGE/tmp_check/log/${t}_"*.log)
		done
		((${#bad_files[@]} > 0)) || logs=("$STAGE"/tmp_check/log/*)
		for t in "${logs[@]}"; do
			show_file "$t" 150
		done
	fi
	record "$name" "$p" "$f" "${TIMEOUT_NOTE:-$note}"
}

# Run `bench/compare --quick` from the staged tree and record it as one test;
# the note gives its time. Like run_logged, but as ourselves, not postgres: it
# installs packages and npm modules and starts a cluster of its own.
compare_stage() {
	local name=compare limit=${GOODJOB_STAGE_TIMEOUT:-180} rc=0 t0=$SECONDS note
	local logf=$GOODJOB_WORKDIR/compare.log
	log "stage $name: bash bench/compare --quick"
	(cd "$STAGE" && exec timeout -k 10 "$limit" bash bench/compare --quick) >"$logf" 2>&1 </dev/null &
	_GOODJOB_BG_PID=$!
	tail -n +1 -f --pid="$_GOODJOB_BG_PID" "$logf" &
	_GOODJOB_TAIL_PID=$!
	wait "$_GOODJOB_BG_PID" || rc=$?
	_GOODJOB_BG_PID=
	wait "$_GOODJOB_TAIL_PID" || true
	_GOODJOB_TAIL_PID=
	note="$((SECONDS - t0)) s"
	if ((rc == 0)); then
		record "$name" 1 0 "$note"
	else
		[[ $rc -eq 124 || $rc -eq 137 ]] && note="$note, timed out after ${limit}s"
		record "$name" 0 1 "$note, status $rc; see $logf"
	fi
}

# print_summary [ABORT-NOTE]: print per-stage results and the final
# "N passed, N failed" line; an abort counts as one more failure. Sets STATUS
# to the exit status.
print_summary() {
	local abort=${1:-} s total_passed=0 total_failed=0
	unset -f on_abort # printed once: the EXIT trap must not print it again
	for s in "${STAGES[@]}"; do
		total_passed=$((total_passed + PASSED[$s]))
		total_failed=$((total_failed + FAILED[$s]))
	done
	[[ -n $abort ]] && total_failed=$((total_failed + 1))
	STATUS=0
	((total_failed > 0 || total_passed == 0)) && STATUS=1
	# Clean up (or keep the logs) first, so that nothing is printed after the
	# summary line.
	finish_workdir "$STATUS"
	echo
	echo "== results =="
	for s in "${STAGES[@]}"; do
		printf '  %-11s %3d passed, %3d failed%s\n' "$s" "${PASSED[$s]}" "${FAILED[$s]}" \
			"${NOTE[$s]:+  (${NOTE[$s]})}"
	done
	[[ -n $abort ]] && echo "  $abort"
	((total_passed + total_failed == 0)) && echo "  no test ran"
	echo "$total_passed passed, $total_failed failed"
}

# Called by the EXIT trap of common.sh if this script dies early.
# shellcheck disable=SC2317 # invoked indirectly
on_abort() {
	print_summary "aborted (exit status $1)"
}

# ---------------------------------------------------------------------------

ensure_packages
init_workdir test
STAGE=$(stage_tree)
SOCKDIR=$GOODJOB_WORKDIR/cluster

if ! build_and_install "$STAGE"; then
	record build 0 1 "build or install failed (output above)"
elif ! start_cluster "$SOCKDIR" "$PORT" "$STAGE/test/cluster.conf"; then
	record cluster 0 1 "the test cluster did not start"
	tap_stage
else
	# Regression: sql/*.sql against expected/*.out; diffs in ./regression.diffs.
	regress_stage regression "$STAGE/regression.diffs" ISOLATION= TAP_TESTS=
	# Isolation: test/specs against test/expected (ISOLATION_OPTS sets
	# --outputdir=test/output, where the diffs land).
	regress_stage isolation "$STAGE/test/output/regression.diffs" REGRESS= TAP_TESTS=
	if [[ ${FAILED[regression]} -gt 0 || ${FAILED[isolation]} -gt 0 ]]; then
		show_file "$SOCKDIR/server.log" 60
	fi
	stop_cluster "$SOCKDIR"
	# TAP: test/t/*.pl; each script starts its own clusters under tmp_check.
	tap_stage
fi
[[ -n ${PASSED[build]+set} ]] || compare_stage

print_summary
exit "$STATUS"
