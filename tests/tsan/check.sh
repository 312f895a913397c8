#!/bin/sh
# ThreadSanitizer's reports in `make test`: any report fails the run.
#
#   tests/tsan/check.sh logs PREFIX     scans PREFIX.*, the files TSAN_OPTIONS=log_path=PREFIX
#                                       makes (one per process that reported anything)
#   tests/tsan/check.sh selftest BIN    runs BIN, a program with a data race, with the same
#                                       options, and passes only if the scan finds its report
#
# Each adds one test to tests/run.sh's running total ("PASSED FAILED" in build/test-logs/totals)
# and prints a line saying how it went; for reports, their SUMMARY lines and the first report.
set -u
logs=build/test-logs
mkdir -p "$logs"

# scan PREFIX: prints what PREFIX.* hold; returns 1 when they hold a report.
scan() {
	files=$(ls "$1".* 2>/dev/null)
	[ -n "$files" ] || return 0
	# shellcheck disable=SC2086
	reports=$(cat $files | grep -c -e '^WARNING: ThreadSanitizer' -e '^FATAL: ThreadSanitizer')
	echo "ThreadSanitizer reported $reports times in $(echo "$files" | wc -l) processes:"
	# shellcheck disable=SC2086
	cat $files | sed -n 's/^SUMMARY: ThreadSanitizer: //p' | sort | uniq -c | sort -rn |
		sed 's/^/    /'
	echo "  the first report ($(echo "$files" | head -n 1)):"
	awk '{ print "    " $0 } /^==================$/ && ++n == 2 { exit }' \
		"$(echo "$files" | head -n 1)" | head -n 60
	return 1
}

case "${1:-}" in
logs)
	if scan "$2"; then
		echo "ok   tsan: no ThreadSanitizer report"
		echo "1 0" >> "$logs/totals"
	else
		echo "FAIL tsan: ThreadSanitizer reports (in $2.*)"
		echo "0 1" >> "$logs/totals"
	fi
	;;
selftest)
	tmp=$(mktemp -d /tmp/poolguard-tsan.XXXXXX) || exit 2
	TSAN_OPTIONS="log_path=$tmp/tsan halt_on_error=0" "$2" >"$tmp/out" 2>&1
	status=$?
	if ! scan "$tmp/tsan" >"$tmp/scan" && [ "$status" -ne 0 ] &&
		grep -q 'data race .*racy.c' "$tmp/scan"; then
		echo "ok   tsan self-test: the data race in tests/tsan/racy.c is reported" \
			"(exit $status) and fails the scan"
		echo "1 0" >> "$logs/totals"
	else
		echo "FAIL tsan self-test: $2 exited $status and the scan found no report of its race:"
		sed 's/^/    /' "$tmp/scan" "$tmp/out" | head -n 40
		echo "0 1" >> "$logs/totals"
	fi
	rm -rf "$tmp"
	;;
*)
	echo "usage: tests/tsan/check.sh logs PREFIX | selftest BIN" >&2
	exit 2
	;;
esac
exit 0
