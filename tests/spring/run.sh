#!/usr/bin/env bash
# The proof against a real Spring Boot application: for every case in tests/spring/cases/, runs
# the replicas of its Deployment as processes of poolprobe (a minimal Spring Boot 3 application,
# tests/spring/app) against a real PostgreSQL, counts their connections in pg_stat_activity, and
# asserts that the count is the one the case's expected-connections records and the one
# `poolguard check` predicts for the same manifest.
#
#   bash tests/spring/run.sh [CASE...]     from the repository root, after `make`
#
# PostgreSQL is started here on a free port of 127.0.0.1 in a temporary directory, as the
# unprivileged user poolguard-test when run as root, and stopped on exit, failure or not.
# Needs: build/poolguard, PostgreSQL's server (Debian: postgresql), Maven and a JDK 17, Debian's
# /usr/bin/python3 with python3-yaml. Prints "ok - ..." / "not ok - ..." per check and ends with
# "N passed, N failed"; exits 1 when a check failed. KEEP=1 keeps the temporary directory; the
# pods' folders, logs and build/spring/pods/results.tsv stay in build/spring/pods/.
# POOLGUARD_BIN names the poolguard to test (default build/poolguard); POOLGUARD_SPRING_JOBS how
# many cases run at once (default 2).
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 2
TEST_USER=poolguard-test
POOLGUARD=${POOLGUARD_BIN:-$ROOT/build/poolguard}
PYTHON=/usr/bin/python3
TMP=
PG_BIN=
pg_started=0

finish() {
	pgtest_stop
	if [ -n "$TMP" ]; then
		if [ "${KEEP:-0}" = 1 ]; then echo "# kept $TMP"; else rm -rf "$TMP"; fi
	fi
}

# A setup step failed: no case can run.
abort() {
	echo "not ok - $1"
	[ -n "${2:-}" ] && [ -f "$2" ] && tail -n 40 "$2" | sed 's/^/    # /'
	echo "0 passed, 1 failed"
	exit 1
}
trap 'finish' EXIT
trap 'exit 1' INT TERM HUP
# shellcheck source=tests/lib/pgtest.sh
. "$ROOT/tests/lib/pgtest.sh"

# ---- prerequisites -------------------------------------------------------------------------
[ -x "$PG_BIN/initdb" ] || abort "prerequisites: PostgreSQL server not found (apt-get install postgresql)"
[ -x "$POOLGUARD" ] || abort "prerequisites: $POOLGUARD not found (run make first)"
command -v java >/dev/null || abort "prerequisites: java not found (a JDK 17 is needed)"
"$PYTHON" -c 'import yaml' 2>/dev/null ||
	abort "prerequisites: $PYTHON cannot import yaml (apt-get install python3-yaml)"
pgtest_user
mkdir -p build/spring
JAR=$(bash tests/spring/build.sh 2>build/spring/build.log) ||
	abort "build: tests/spring/app with Maven" build/spring/build.log
grep -h '^build.sh: built' build/spring/build.log | sed 's/^/# /'

TMP=$(mktemp -d /tmp/poolguard-spring.XXXXXX) || abort "mktemp"
chmod 0700 "$TMP"
[ "$(id -u)" -eq 0 ] && chown "$TEST_USER:" "$TMP"

# ---- PostgreSQL ----------------------------------------------------------------------------
as_test "$PG_BIN/initdb" -D "$TMP/data" -U postgres -A trust -E UTF8 >"$TMP/initdb.log" 2>&1 ||
	abort "initdb" "$TMP/initdb.log"
PORT=$(free_port) || abort "no free port"
# Cases run two at a time, up to 3 pods x 63 each: room for all of them, with no limit per role.
as_test "$PG_BIN/pg_ctl" -D "$TMP/data" -l "$TMP/pg.log" -w -t 60 \
	-o "-c listen_addresses=127.0.0.1 -p $PORT -k $TMP -c max_connections=600 -c fsync=off" \
	start >/dev/null 2>&1 || abort "PostgreSQL start" "$TMP/pg.log"
pg_started=1
"$PG_BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -qAt \
	-c "CREATE ROLE probe LOGIN" >"$TMP/psql.log" 2>&1 || abort "CREATE ROLE probe" "$TMP/psql.log"
echo "# PostgreSQL $("$PG_BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -qAt \
	-c 'SHOW server_version') on 127.0.0.1:$PORT, max_connections 600"

# ---- the cases -----------------------------------------------------------------------------
cases=()
if [ $# -gt 0 ]; then
	for c in "$@"; do cases+=("tests/spring/cases/${c#tests/spring/cases/}"); done
else
	for c in tests/spring/cases/*/; do cases+=("${c%/}"); done
fi
rm -rf build/spring/pods
mkdir -p build/spring/pods
"$PYTHON" tests/spring/pods.py --jar "$JAR" --port "$PORT" --psql "$PG_BIN/psql" \
	--poolguard "$POOLGUARD" --budget tests/spring/budget.yaml --work build/spring/pods \
	--jobs "${POOLGUARD_SPRING_JOBS:-2}" "${cases[@]}"
rc=$?
# 0: all passed, 1: a check failed (its closing line printed); anything else is a crash.
if [ "$rc" -gt 1 ]; then
	echo "not ok - tests/spring/pods.py ended with status $rc"
	echo "0 passed, 1 failed"
fi
exit "$rc"
