#!/bin/sh
# Runs test binaries (cmocka) and sums their results into one closing line,
# "N passed, N failed". A binary that dies before printing its summary counts
# as one failure. Output of each binary goes to build/test-logs/NAME.log and is
# shown when it fails. Exit status: 0 when nothing failed.
set -u
passed=0
failed=0
for bin in "$@"; do
	name=$(basename "$bin")
	mkdir -p build/test-logs
	log="build/test-logs/$name.log"
	CMOCKA_MESSAGE_OUTPUT=stdout "$bin" >"$log" 2>&1
	status=$?
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	p=${p:-0}
	f=${f:-0}
	if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -ne 0 ]; then
		echo "FAIL $name ($p passed, $f failed, exit $status):"
		sed 's/^/    /' "$log" | tail -n 60
	else
		echo "ok   $name ($p passed)"
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
