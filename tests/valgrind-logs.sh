#!/bin/sh
# Counts the valgrind runs of `make test` (the unit tests under tests/run.sh --memcheck, poolguard
# under the integration harness): a log with anything in it is an error report (valgrind -q
# writes nothing otherwise). Adds one test to the running total of tests/run.sh: passed when
# every log is empty.
set -u
logs=build/test-logs
runs=$(ls "$logs"/memcheck-*.log 2>/dev/null | wc -l)
bad=0
for f in "$logs"/memcheck-*.log; do
	[ -s "$f" ] || continue
	bad=$((bad + 1))
	echo "valgrind reported errors ($f):"
	sed 's/^/    /' "$f" | head -n 60
done
if [ "$runs" -eq 0 ]; then
	echo "FAIL valgrind: no valgrind run was logged"
	echo "0 1" >> "$logs/totals"
elif [ "$bad" -eq 0 ]; then
	echo "ok   valgrind: $runs runs (unit tests and poolguard), 0 errors, 0 definite leaks"
	echo "1 0" >> "$logs/totals"
else
	echo "FAIL valgrind: $bad of $runs runs reported errors"
	echo "0 1" >> "$logs/totals"
fi
