#!/usr/bin/env bash
# `poolguard db` and poolguard's verdicts against a real PostgreSQL and a real
# PgBouncer, both started here on free ports of 127.0.0.1 in a temporary
# directory, as the unprivileged user poolguard-test (both refuse root), and
# stopped on exit, failure or not.
#
#   make build/poolguard build/tests/db_holdconn build/tests/db_jsonget
#   bash tests/db/db_test.sh        from the repository root
#
# Needs: the programs above (`make test` builds them with the Makefile's rules, like every
# other test program), PostgreSQL's server and psql (Debian: postgresql), pgbouncer.
# Prints "ok - ..." / "not ok - ..." per check and ends with "N passed, N failed";
# exits 1 when a check failed. KEEP=1 keeps the temporary directory.
# POOLGUARD_BIN names the poolguard to test (default build/poolguard), POOLGUARD_DB_TOOLS the
# directory of db_holdconn and db_jsonget (default build/tests).
# POOLGUARD_TOTALS=FILE appends "PASSED FAILED" to FILE (tests/run.sh's totals).
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 2
TEST_USER=poolguard-test
POOLGUARD=${POOLGUARD_BIN:-$ROOT/build/poolguard}
TOOLS=${POOLGUARD_DB_TOOLS:-$ROOT/build/tests}
HOLD=$TOOLS/db_holdconn
JG=$TOOLS/db_jsonget
passed=0
failed=0
TMP=
PG_BIN=
PGPORT_=
BOUNCER_PORT=
pg_started=0
holders=()

ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() {
	failed=$((failed + 1))
	echo "not ok - $*"
}
# Shows a file indented, after a failure.
show() { [ -f "$1" ] && sed 's/^/    # /' "$1" | tail -n "${2:-40}"; }
# check DESCRIPTION COMMAND...: ok when the command succeeds.
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}

finish() {
	local i
	for i in "${holders[@]}"; do
		kill "$i" 2>/dev/null
		wait "$i" 2>/dev/null
	done
	if [ -n "$TMP" ] && [ -f "$TMP/pgbouncer.pid" ]; then
		local pid
		pid=$(cat "$TMP/pgbouncer.pid")
		kill "$pid" 2>/dev/null
		for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	fi
	pgtest_stop
	if [ -n "$TMP" ]; then
		if [ "${KEEP:-0}" = 1 ]; then echo "# kept $TMP"; else rm -rf "$TMP"; fi
	fi
	echo "$passed passed, $failed failed"
	if [ -n "${POOLGUARD_TOTALS:-}" ]; then echo "$passed $failed" >> "$POOLGUARD_TOTALS"; fi
}

# A setup step failed: everything after it would fail too.
abort() {
	not_ok "$1"
	[ -n "${2:-}" ] && show "$2"
	exit 1
}
trap 'finish' EXIT
trap 'exit 1' INT TERM HUP
# shellcheck source=tests/lib/pgtest.sh
. "$ROOT/tests/lib/pgtest.sh"

# ---- prerequisites -------------------------------------------------------------------------
PGBOUNCER=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
[ -x "$PG_BIN/initdb" ] || abort "prerequisites: PostgreSQL server not found (apt-get install postgresql)"
[ -x "$PGBOUNCER" ] || abort "prerequisites: pgbouncer not found (apt-get install pgbouncer)"
for p in "$POOLGUARD" "$HOLD" "$JG"; do
	[ -x "$p" ] || abort "prerequisites: '$p' not built (make build/poolguard build/tests/db_holdconn build/tests/db_jsonget)"
done
pgtest_user

TMP=$(mktemp -d /tmp/poolguard-db.XXXXXX) || abort "mktemp"
chmod 0700 "$TMP"
[ "$(id -u)" -eq 0 ] && chown "$TEST_USER:" "$TMP"

# ---- PostgreSQL ----------------------------------------------------------------------------
for v in $(env | sed -n 's/^\(PG[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
PGPORT_=$(free_port) || abort "no free port"
BOUNCER_PORT=$(free_port "$PGPORT_") || abort "no free port"
mkdir -p "$TMP/sock"
[ "$(id -u)" -eq 0 ] && chown "$TEST_USER:" "$TMP/sock"
as_test "$PG_BIN/initdb" -D "$TMP/data" -U postgres -E UTF8 --locale=C -N \
	--auth-local=trust --auth-host=scram-sha-256 >"$TMP/initdb.log" 2>&1 ||
	abort "initdb" "$TMP/initdb.log"
cat >>"$TMP/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$TMP/sock'
max_connections = 100
superuser_reserved_connections = 3
cluster_name = 'poolguard-test'
fsync = off
EOF
pg_started=1
# A port found free can still be taken before PostgreSQL binds it: try another one then.
for attempt in 1 2 3; do
	if as_test "$PG_BIN/pg_ctl" -D "$TMP/data" -l "$TMP/postgres.log" -o "-p $PGPORT_" -w \
		-t 60 start >"$TMP/pg_ctl.log" 2>&1; then
		break
	fi
	grep -q 'Address already in use' "$TMP/postgres.log" && [ "$attempt" -lt 3 ] ||
		abort "PostgreSQL starts on 127.0.0.1:$PGPORT_" "$TMP/postgres.log"
	PGPORT_=$(free_port "$PGPORT_" "$BOUNCER_PORT") || abort "no free port"
done
echo "# PostgreSQL $("$PG_BIN/postgres" -V | awk '{print $3}') on 127.0.0.1:$PGPORT_ as $TEST_USER"

# psql as the superuser over the Unix socket (trust), for setup and for counting.
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 -h "$TMP/sock" -p "$PGPORT_" -U postgres -d postgres "$@"; }
# Client backends of a role now.
live() { sql -c "SELECT count(*) FROM pg_stat_activity WHERE usename = '$1' AND backend_type = 'client backend'"; }
# Waits until role $1 holds no connection (backends end a moment after their clients).
drain() {
	local i
	for i in $(seq 100); do [ "$(live "$1")" = 0 ] && return 0; sleep 0.1; done
	return 1
}

sql >"$TMP/setup.log" 2>&1 <<'EOF' || abort "create the roles" "$TMP/setup.log"
CREATE ROLE poolguard LOGIN PASSWORD 'pw-poolguard' IN ROLE pg_monitor;
CREATE ROLE app LOGIN PASSWORD 'pw-app' CONNECTION LIMIT 20;
CREATE ROLE reports LOGIN PASSWORD 'pw-reports' CONNECTION LIMIT 5;
CREATE ROLE "odd ""role"": x" LOGIN CONNECTION LIMIT 2;
CREATE ROLE readers NOLOGIN;
EOF

# Passwords reach libpq through a password file, never the command line.
cat >"$TMP/pgpass" <<EOF
127.0.0.1:$PGPORT_:*:poolguard:pw-poolguard
127.0.0.1:$PGPORT_:*:app:pw-app
127.0.0.1:$BOUNCER_PORT:*:poolguard:pw-poolguard
127.0.0.1:$BOUNCER_PORT:*:app:pw-app
EOF
chmod 0600 "$TMP/pgpass"
export PGPASSFILE=$TMP/pgpass
PG="host=127.0.0.1 port=$PGPORT_ dbname=postgres user=poolguard"
APP="host=127.0.0.1 port=$PGPORT_ dbname=postgres user=app"

# ---- PgBouncer -----------------------------------------------------------------------------
cat >"$TMP/userlist.txt" <<'EOF'
"app" "pw-app"
"poolguard" "pw-poolguard"
EOF
cat >"$TMP/pgbouncer.ini" <<EOF
[databases]
postgres = host=127.0.0.1 port=$PGPORT_ dbname=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER_PORT
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $TMP/userlist.txt
stats_users = poolguard
pool_mode = transaction
max_client_conn = 200
default_pool_size = 10
max_db_connections = 10
logfile = $TMP/pgbouncer.log
pidfile = $TMP/pgbouncer.pid
EOF
chmod 0600 "$TMP/userlist.txt" "$TMP/pgbouncer.ini"
[ "$(id -u)" -eq 0 ] && chown "$TEST_USER:" "$TMP/userlist.txt" "$TMP/pgbouncer.ini"
as_test "$PGBOUNCER" -d "$TMP/pgbouncer.ini" >"$TMP/pgbouncer.out" 2>&1 ||
	abort "PgBouncer starts on 127.0.0.1:$BOUNCER_PORT" "$TMP/pgbouncer.out"
CONSOLE="host=127.0.0.1 port=$BOUNCER_PORT dbname=pgbouncer user=poolguard"
BOUNCED="host=127.0.0.1 port=$BOUNCER_PORT dbname=postgres user=app"
for i in $(seq 100); do
	psql -X -q -d "$CONSOLE" -c 'SHOW VERSION;' >/dev/null 2>&1 && break
	sleep 0.1
done
psql -X -q -d "$CONSOLE" -c 'SHOW VERSION;' >"$TMP/bouncer-version.log" 2>&1 ||
	abort "PgBouncer answers on its admin console" "$TMP/pgbouncer.log"
echo "# $("$PGBOUNCER" --version | head -n 1) on 127.0.0.1:$BOUNCER_PORT as $TEST_USER"

# ---- budgets and manifests -----------------------------------------------------------------
cat >"$TMP/budget.yaml" <<'EOF'
cluster:
  name: poolguard-test
  maxConnections: 100
  reservedConnections: 3
roles:
  - name: app
    connectionLimit: 20
    namespaces: [default]
  - name: reports
    connectionLimit: 5
    namespaces: [reports]
EOF
cat >"$TMP/budget-pooled.yaml" <<'EOF'
cluster:
  name: poolguard-test
  maxConnections: 100
  reservedConnections: 3
roles:
  - name: app
    connectionLimit: 20
    namespaces: [default]
    pooler: {name: pgbouncer, instances: 1, maxClientConn: 200, defaultPoolSize: 10, maxDbConnections: 10}
EOF
: >"$TMP/empty.yaml"
# deployment REPLICAS POOL > FILE: a Spring Boot Deployment in namespace default.
deployment() {
	cat <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: default
spec:
  replicas: $1
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - name: api
          image: registry.example/api:1.0
          env:
            - name: SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE
              value: "$2"
EOF
}

# run NAME COMMAND...: runs it, output in $TMP/NAME.out, status in $rc.
run() {
	local name=$1
	shift
	"$@" >"$TMP/$name.out" 2>&1
	rc=$?
}

# ---- a. the budget matches the database ----------------------------------------------------
# An empty --conninfo: libpq takes the server from the PG* environment variables.
run a env PGHOST=127.0.0.1 PGPORT="$PGPORT_" PGUSER=poolguard PGDATABASE=postgres \
	"$POOLGUARD" db --config "$TMP/budget.yaml"
if [ "$rc" = 0 ] && grep -q '^4 items compared: 0 drift$' "$TMP/a.out" &&
	! grep -q DRIFT "$TMP/a.out"; then
	ok "a. budget matching the server (PG* environment, no --conninfo): exit 0, no drift"
else
	not_ok "a. budget matching the server: exit $rc"
	show "$TMP/a.out"
fi
run a-json "$POOLGUARD" db --config "$TMP/budget.yaml" --conninfo "$PG" -o json
check "a. JSON: summary.drift 0, max_connections 100, superuser_reserved_connections 3" \
	test "$rc:$("$JG" "$TMP/a-json.out" summary.drift):$("$JG" "$TMP/a-json.out" database.maxConnections):$("$JG" "$TMP/a-json.out" database.superuserReservedConnections)" = "0:0:100:3"

# ---- b. ALTER ROLE app CONNECTION LIMIT 15 -------------------------------------------------
sql -c 'ALTER ROLE app CONNECTION LIMIT 15'
run b "$POOLGUARD" db --config "$TMP/budget.yaml" --conninfo "$PG"
if [ "$rc" = 1 ] &&
	grep -q "^DRIFT  role 'app': connectionLimit is 20 in the budget, rolconnlimit is 15 in the database$" "$TMP/b.out" &&
	[ "$(grep -c '^DRIFT' "$TMP/b.out")" = 1 ]; then
	ok "b. CONNECTION LIMIT 15 against connectionLimit 20: one DRIFT line naming app, 20 and 15, exit 1"
else
	not_ok "b. drift after ALTER ROLE app CONNECTION LIMIT 15: exit $rc"
	show "$TMP/b.out"
fi
run b-json "$POOLGUARD" db --config "$TMP/budget.yaml" --conninfo "$PG" -o json
got="$rc|$("$JG" "$TMP/b-json.out" drift.length)|$("$JG" "$TMP/b-json.out" drift.0.field)|$("$JG" "$TMP/b-json.out" drift.0.role)|$("$JG" "$TMP/b-json.out" drift.0.budget)|$("$JG" "$TMP/b-json.out" drift.0.database)"
if [ "$got" = "1|1|roles[0].connectionLimit|app|20|15" ]; then
	ok "b. JSON: drift[0] = {field roles[0].connectionLimit, role app, budget 20, database 15}, exit 1"
else
	not_ok "b. JSON drift item: got $got"
	show "$TMP/b-json.out"
fi
sql -c 'ALTER ROLE app CONNECTION LIMIT 20'

# ---- c. --write-budget ---------------------------------------------------------------------
"$POOLGUARD" db --write-budget --conninfo "$PG" >"$TMP/written.yaml" 2>"$TMP/c.err"
rc=$?
check "c. --write-budget exits 0" test "$rc" = 0
run c-check "$POOLGUARD" check --config "$TMP/written.yaml" "$TMP/empty.yaml"
if [ "$rc" = 0 ]; then
	ok "c. the written budget loads: poolguard check --config written.yaml (empty manifest) exits 0"
else
	not_ok "c. the written budget does not load: exit $rc"
	show "$TMP/c-check.out"
	show "$TMP/written.yaml"
fi
run c-db "$POOLGUARD" db --config "$TMP/written.yaml" --conninfo "$PG" -o json
got="$rc|$("$JG" "$TMP/c-db.out" summary.drift)|$("$JG" "$TMP/c-db.out" summary.items)"
# cluster: 2 items; roles: app, poolguard, reports and the oddly named one (no postgres, readers).
if [ "$got" = "0|0|6" ]; then
	ok "c. poolguard db --config written.yaml: cluster values and 4 role limits, no drift"
else
	not_ok "c. drift against the written budget: got exit|drift|items $got"
	show "$TMP/c-db.out" 60
	show "$TMP/written.yaml"
fi
if grep -q '^  - name: "odd \\"role\\": x"$' "$TMP/written.yaml" &&
	! grep -q 'name: "postgres"' "$TMP/written.yaml" &&
	! grep -q 'name: "readers"' "$TMP/written.yaml"; then
	ok "c. written budget: names quoted, superuser and NOLOGIN roles left out"
else
	not_ok "c. written budget content"
	show "$TMP/written.yaml"
fi

# ---- d. the boundary: CONNECTION LIMIT 20, connectionLimit 20 ------------------------------
run d-db "$POOLGUARD" db --config "$TMP/budget.yaml" --conninfo "$PG"
check "d. premise: budget and database agree on app's 20" test "$rc" = 0
for rp in 4x5 5x4 2x10 3x7 7x3; do
	r=${rp%x*}
	p=${rp#*x}
	n=$((r * p))
	deployment "$r" "$p" >"$TMP/deploy-$rp.yaml"
	run "d-check-$rp" "$POOLGUARD" check --config "$TMP/budget.yaml" "$TMP/deploy-$rp.yaml"
	verdict=$rc
	drain app || not_ok "d. app's connections drain"
	rm -f "$TMP/release"
	"$HOLD" -n "$n" -r "$TMP/release" "$APP" >"$TMP/d-hold-$rp.out" 2>&1 &
	holder=$!
	holders+=("$holder")
	for i in $(seq 300); do grep -q '^holding' "$TMP/d-hold-$rp.out" && break; sleep 0.05; done
	held=$(live app)
	if [ "$n" = 20 ]; then
		run "d-live-$rp" "$POOLGUARD" db --config "$TMP/budget.yaml" --conninfo "$PG" -o json \
			--inventory "$TMP/deploy-$rp.yaml"
		livejson=$("$JG" "$TMP/d-live-$rp.out" live.roles.0.live)/$("$JG" "$TMP/d-live-$rp.out" live.roles.0.predicted)
	fi
	touch "$TMP/release"
	wait "$holder"
	hold_rc=$?
	if [ "$n" = 20 ]; then
		if [ "$verdict" = 0 ] && [ "$hold_rc" = 0 ] &&
			grep -q '^opened 20 of 20$' "$TMP/d-hold-$rp.out" && [ "$held" = 20 ] &&
			[ "$livejson" = 20/20 ]; then
			ok "d. $r x $p = 20: poolguard allows (check exit 0), PostgreSQL accepts all 20 connections of app (poolguard db --inventory: live 20, predicted 20)"
		else
			not_ok "d. $r x $p = 20: check exit $verdict, holdconn exit $hold_rc, held $held, poolguard db live/predicted ${livejson:-?}"
			show "$TMP/d-check-$rp.out"
			show "$TMP/d-hold-$rp.out"
		fi
	else
		if [ "$verdict" = 1 ] && grep -q '^DENY' "$TMP/d-check-$rp.out" &&
			grep -q '^opened 20 of 21$' "$TMP/d-hold-$rp.out" &&
			grep -q '^first error: .*too many connections for role "app"' "$TMP/d-hold-$rp.out"; then
			ok "d. $r x $p = 21: poolguard denies (check exit 1), PostgreSQL refuses the 21st connection (too many connections for role \"app\")"
		else
			not_ok "d. $r x $p = 21: check exit $verdict, holdconn exit $hold_rc"
			show "$TMP/d-check-$rp.out"
			show "$TMP/d-hold-$rp.out"
		fi
	fi
done
drain app

# ---- e. through PgBouncer, transaction pooling, max_db_connections 10 ----------------------
# 100 clients each send a query at once; PgBouncer queues them on at most 10
# server connections, which the sampling loop watches from the server side.
"$HOLD" -n 100 -q 'SELECT 1 FROM pg_sleep(0.2)' -e 1 -r "$TMP/release-e" "$BOUNCED" \
	>"$TMP/e-hold.out" 2>&1 &
holder=$!
holders+=("$holder")
max=0
while ! grep -q '^holding' "$TMP/e-hold.out" 2>/dev/null && kill -0 "$holder" 2>/dev/null; do
	n=$(live app)
	[ "$n" -gt "$max" ] && max=$n
	sleep 0.05
done
after=$(live app)
touch "$TMP/release-e"
wait "$holder"
hold_rc=$?
if [ "$hold_rc" = 0 ] && grep -q '^opened 100 of 100$' "$TMP/e-hold.out" &&
	grep -q '^queries ok 100 of 100$' "$TMP/e-hold.out"; then
	ok "e. 100 client connections through PgBouncer all open and each answers SELECT 1"
else
	not_ok "e. 100 clients through PgBouncer: holdconn exit $hold_rc"
	show "$TMP/e-hold.out"
	show "$TMP/pgbouncer.log" 20
fi
if [ "$max" -ge 1 ] && [ "$max" -le 10 ] && [ "$after" -le 10 ]; then
	ok "e. server side meanwhile: at most $max connections of app in pg_stat_activity (<= 10), $after after"
else
	not_ok "e. server side: max $max, after $after connections of app (want 1..10)"
fi
deployment 10 10 >"$TMP/deploy-pooled-10x10.yaml"
run e-100 "$POOLGUARD" check --config "$TMP/budget-pooled.yaml" "$TMP/deploy-pooled-10x10.yaml"
if [ "$rc" = 0 ]; then
	ok "e. pooled budget: 10 replicas x pool 10 = 100 clients of 200 admitted (check exit 0)"
else
	not_ok "e. 10 x 10 through the pooler: check exit $rc"
	show "$TMP/e-100.out"
fi
deployment 21 10 >"$TMP/deploy-pooled-21x10.yaml"
run e-210 "$POOLGUARD" check --config "$TMP/budget-pooled.yaml" "$TMP/deploy-pooled-21x10.yaml"
if [ "$rc" = 1 ] && grep -q '^DENY' "$TMP/e-210.out"; then
	ok "e. pooled budget: 21 replicas x pool 10 = 210 clients > 200 denied (check exit 1)"
else
	not_ok "e. 21 x 10 through the pooler: check exit $rc"
	show "$TMP/e-210.out"
fi
run e-db "$POOLGUARD" db --config "$TMP/budget-pooled.yaml" --conninfo "$PG" --pgbouncer "$CONSOLE"
if [ "$rc" = 0 ] && ! grep -q '^DRIFT' "$TMP/e-db.out" &&
	[ "$(grep -c '^roles\[0\]\.pooler\.' "$TMP/e-db.out")" = 3 ] &&
	grep -q "^NOTE   pooler 'pgbouncer': instances (1 in the budget) cannot be read" "$TMP/e-db.out"; then
	ok "e. poolguard db --pgbouncer: maxClientConn, defaultPoolSize, maxDbConnections match SHOW CONFIG, instances noted as unreadable"
else
	not_ok "e. poolguard db --pgbouncer: exit $rc"
	show "$TMP/e-db.out"
fi
run e-drift "$POOLGUARD" db --config <(sed 's/maxClientConn: 200/maxClientConn: 300/' "$TMP/budget-pooled.yaml") \
	--conninfo "$PG" --pgbouncer "$CONSOLE"
if [ "$rc" = 1 ] &&
	grep -q "^DRIFT  role 'app': pooler.maxClientConn is 300 in the budget, max_client_conn is 200 in PgBouncer$" "$TMP/e-drift.out"; then
	ok "e. a budget saying maxClientConn 300 against PgBouncer's 200: DRIFT, exit 1"
else
	not_ok "e. pooler drift: exit $rc"
	show "$TMP/e-drift.out"
fi

# ---- f. errors ------------------------------------------------------------------------------
DEAD=$(free_port "$PGPORT_" "$BOUNCER_PORT")
run f-dead "$POOLGUARD" db --config "$TMP/budget.yaml" --conninfo "host=127.0.0.1 port=$DEAD user=poolguard" --connect-timeout 5
if [ "$rc" = 2 ] && grep -q "^poolguard: unable to connect to '127.0.0.1:$DEAD': .*Connection refused" "$TMP/f-dead.out"; then
	ok "f. nothing listening: exit 2, the message names 127.0.0.1:$DEAD and libpq's reason"
else
	not_ok "f. unreachable server: exit $rc"
	show "$TMP/f-dead.out"
fi
run f-pass "$POOLGUARD" db --config "$TMP/budget.yaml" --conninfo "$PG password=secret"
if [ "$rc" = 2 ] && grep -q 'carries a password' "$TMP/f-pass.out"; then
	ok "f. a password in --conninfo is refused (exit 2)"
else
	not_ok "f. password in --conninfo: exit $rc"
	show "$TMP/f-pass.out"
fi
run f-missing "$POOLGUARD" db --config <(printf 'cluster: {maxConnections: 100, reservedConnections: 3}\nroles:\n  - {name: ghost, connectionLimit: 5}\n') --conninfo "$PG"
if [ "$rc" = 1 ] && grep -q "^DRIFT  role 'ghost' is in the budget (roles\[0\]) but not in the database$" "$TMP/f-missing.out"; then
	ok "f. a budget role missing from the database is drift (exit 1)"
else
	not_ok "f. missing role: exit $rc"
	show "$TMP/f-missing.out"
fi

# ---- g. serve --db: the database's numbers in /metrics, never in the admission path -------------
sh "$ROOT/certs/make-certs.sh" "$TMP/certs" >/dev/null
metrics() { curl -s --max-time 5 --cacert "$TMP/certs/ca.crt" "https://127.0.0.1:$1/metrics"; }
SERVE_PORT=$(free_port "$PGPORT_" "$BOUNCER_PORT")
"$POOLGUARD" serve --config "$TMP/budget.yaml" --tls-cert "$TMP/certs/serving.crt" \
	--tls-key "$TMP/certs/serving.key" --listen "127.0.0.1:$SERVE_PORT" --db="$PG" \
	>"$TMP/serve-db.log" 2>&1 &
holders+=("$!")
up=""
for _ in $(seq 1 50); do
	metrics "$SERVE_PORT" >"$TMP/g.metrics" 2>/dev/null
	if grep -q '^poolguard_db_up 1$' "$TMP/g.metrics"; then up=1; break; fi
	sleep 0.2
done
if [ -n "$up" ] && grep -q '^poolguard_db_max_connections 100$' "$TMP/g.metrics" &&
	grep -q '^poolguard_db_role_connection_limit{role="app"} ' "$TMP/g.metrics" &&
	grep -q '^poolguard_db_role_connections{role="app"} ' "$TMP/g.metrics" &&
	grep -q '^poolguard_db_role_drift{role="app"} ' "$TMP/g.metrics"; then
	ok "g. serve --db: poolguard_db_up 1, max_connections 100, app's limit, live connections and drift in /metrics"
else
	not_ok "g. serve --db metrics"
	show "$TMP/g.metrics"
	show "$TMP/serve-db.log"
fi
DEAD_PORT=$(free_port "$PGPORT_" "$BOUNCER_PORT" "$SERVE_PORT")
SERVE2_PORT=$(free_port "$PGPORT_" "$BOUNCER_PORT" "$SERVE_PORT" "$DEAD_PORT")
"$POOLGUARD" serve --config "$TMP/budget.yaml" --tls-cert "$TMP/certs/serving.crt" \
	--tls-key "$TMP/certs/serving.key" --listen "127.0.0.1:$SERVE2_PORT" \
	--db="host=127.0.0.1 port=$DEAD_PORT user=poolguard connect_timeout=3" >"$TMP/serve-dead.log" 2>&1 &
holders+=("$!")
sleep 1
start=$(date +%s%N)
code=$(curl -s -o "$TMP/g.review" -w '%{http_code}' --max-time 5 --cacert "$TMP/certs/ca.crt" \
	-H 'Content-Type: application/json' --data-binary @"$ROOT/manifests/examples/review-scale-api-to-11.json" \
	"https://127.0.0.1:$SERVE2_PORT/validate")
ms=$(( ($(date +%s%N) - start) / 1000000 ))
metrics "$SERVE2_PORT" >"$TMP/g2.metrics" 2>/dev/null
if [ "$code" = 200 ] && [ "$ms" -lt 1000 ] && grep -q '^poolguard_db_up 0$' "$TMP/g2.metrics"; then
	ok "g. serve --db with the database down: poolguard_db_up 0, and /validate still answers (200 in $ms ms)"
else
	not_ok "g. database down: /validate $code in $ms ms"
	show "$TMP/g2.metrics"
	show "$TMP/serve-dead.log"
fi

[ "$failed" -eq 0 ]
