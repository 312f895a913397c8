#!/bin/sh
# Runs test binaries (cmocka) and keeps a running total over several runs.
#
#   tests/run.sh --reset                 starts a new total
#   tests/run.sh [--suite NAME] [--memcheck] BIN...
#                                        runs the binaries, adds their counts to the total;
#                                        --memcheck runs each under valgrind memcheck, its
#                                        report in build/test-logs/memcheck-PID.log (counted by
#                                        tests/valgrind-logs.sh)
#   tests/run.sh --count NAME STATUS LOG adds the last "N passed, N failed" line of LOG
#                                        (another runner's), or one failure if STATUS is not 0
#                                        and the line says none
#   tests/run.sh --summary               prints "N passed, N failed" for the total;
#                                        exits 1 if anything failed
#
# A binary that dies before printing its summary counts as one failure. Each
# binary's output goes to build/test-logs/SUITE-NAME.log and is shown when it fails.
set -u
logs=build/test-logs
totals=$logs/totals
mkdir -p "$logs"

# record LABEL PASSED FAILED STATUS LOG LINES: adds the counts to the total (a
# non-zero status with nothing failed counts one failure) and says how it went.
record() {
	p=$2
	f=$3
	if [ "$4" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	echo "$p $f" >> "$totals"
	if [ "$f" -ne 0 ]; then
		echo "FAIL $1 ($p passed, $f failed, exit $4):"
		sed 's/^/    /' "$5" | tail -n "$6"
	else
		echo "ok   $1 ($p passed)"
	fi
}

case "${1:-}" in
--reset)
	rm -f "$totals" "$logs"/memcheck-*.log "$logs"/tsan.*
	exit 0
	;;
--count)
	name=$2
	status=$3
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$4" | tail -n 1)
	p=0
	f=0
	if [ -n "$line" ]; then
		p=${line%% passed*}
		f=${line#*, }
		f=${f%% failed*}
	fi
	record "$name" "$p" "$f" "$status" "$4" 40
	exit 0
	;;
--summary)
	passed=0
	failed=0
	if [ -f "$totals" ]; then
		while read -r p f; do
			passed=$((passed + p))
			failed=$((failed + f))
		done < "$totals"
	fi
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit $?
	;;
esac

suite=plain
if [ "${1:-}" = --suite ]; then
	suite=$2
	shift 2
fi
# The same options as the integration harness gives valgrind around the server.
wrap=""
if [ "${1:-}" = --memcheck ]; then
	wrap="valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
		--log-file=$logs/memcheck-%p.log"
	shift
fi
for bin in "$@"; do
	name=$(basename "$bin")
	log="$logs/$suite-$name.log"
	# shellcheck disable=SC2086
	CMOCKA_MESSAGE_OUTPUT=stdout $wrap "$bin" >"$log" 2>&1
	status=$?
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	record "$suite $name" "${p:-0}" "${f:-0}" "$status" "$log" 60
done
exit 0
