# tests/bench/lib.sh - shared by bench.sh and soak.sh: a temporary directory, the
# processes started (all stopped on exit), free ports, payloads, and the servers.
#
# Source it from bash after setting nothing; it sets:
#   bench_dir  this folder          root  the repository
#   work       a new temporary directory, removed on exit (BENCH_KEEP=1 keeps it)
# Every process started with bench_spawn is stopped on exit, by its pid.

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$bench_dir/../.." && pwd)
POOLGUARD=${POOLGUARD_BIN:-$root/build/poolguard}
CERTS=${BENCH_CERTS:-$root/certs/out}
BENCH_CACHE=${POOLGUARD_BENCH_CACHE:-${HOME:-/root}/.cache/poolguard-bench}
FIXTURE_14K=$root/tests/fixtures/public/kubewarden-policies__echo__test_data__update_accept.json

work=$(mktemp -d "${TMPDIR:-/tmp}/poolguard-bench.XXXXXX")
bench_pids=()
bench_server_prefix=()	# e.g. (taskset -c 1) to pin the servers

bench_log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
bench_die() { bench_log "error: $*"; exit 1; }

# 1 if PID is still a child of this shell: a pid that was reaped may belong to someone
# else by now, and is never signalled.
bench_ours() {
	[ -r "/proc/$1/stat" ] &&
		[ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f2)" = "$$" ]
}

# Forgets a pid (after waiting for it): it is not ours to signal any more.
bench_forget() {
	local keep=() p
	for p in "${bench_pids[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	bench_pids=("${keep[@]}")
}

# bench_reap PID: waits for a process we started to end by itself, and forgets it.
bench_reap() {
	wait "$1" 2>/dev/null || true
	bench_forget "$1"
}

# Stops one process we started: TERM, then KILL after 5 s; then forgets it.
bench_stop() {
	local pid=$1 i
	if bench_ours "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		for i in $(seq 50); do
			bench_ours "$pid" && kill -0 "$pid" 2>/dev/null || break
			[ "$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -c1)" = Z ] && break
			sleep 0.1
		done
		bench_ours "$pid" && kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	bench_forget "$pid"
}

bench_cleanup() {
	local pid
	trap - EXIT INT TERM
	for pid in "${bench_pids[@]}"; do
		bench_stop "$pid" || true
	done
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		bench_log "kept $work"
	else
		rm -rf "$work"
	fi
}
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# bench_spawn LOG CMD...: starts CMD in the background, stdout and stderr appended to
# LOG; the pid is in $spawned.
bench_spawn() {
	local log=$1
	shift
	"$@" >>"$log" 2>&1 &
	spawned=$!
	bench_pids+=("$spawned")
}

# A TCP port of 127.0.0.1 nothing listens on (another process may still take it before
# the server does: the callers check that their own server answers).
bench_free_port() {
	local p i
	for i in $(seq 200); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))	# below the ephemeral range
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	bench_die "no free port found"
}

# bench_wait_https URL PID [SECONDS]: until URL answers over TLS (any HTTP status).
bench_wait_https() {
	local url=$1 pid=$2 limit=${3:-30} i
	for i in $(seq $((limit * 100))); do
		kill -0 "$pid" 2>/dev/null || return 1
		if curl -s -o /dev/null --max-time 2 --cacert "$CERTS/ca.crt" "$url"; then
			return 0
		fi
		sleep 0.01
	done
	return 1
}

# The three payloads, into $work/payloads: scale.json (kubectl scale, about 1 KB,
# committed), deploy-14k.json (the public fixture, a bare AdmissionRequest, wrapped as
# the performance notes did) and deploy-200k.json (the same with 12 more containers of
# 103 env entries each in object and oldObject, about 200 KB).
bench_payloads() {
	local d=$work/payloads
	mkdir -p "$d"
	cp "$bench_dir/payloads/scale-api-3-to-8.json" "$d/scale.json"
	cp "$bench_dir/payloads/scale-api-3-to-11.json" "$d/scale-deny.json"
	{
		printf '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request": '
		cat "$FIXTURE_14K"
		printf '}'
	} >"$d/deploy-14k.json"
	awk -v nc=12 -v ne=103 '
	{ print }
	/"containers": \[/ {
		for (c = 1; c <= nc; c++) {
			printf "            {\"name\": \"sidecar-%02d\", \"image\": " \
			    "\"registry.example/platform/sidecar-%02d:2.7.1\", \"env\": [", c, c
			if (c == 1)
				printf "{\"name\": \"SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE\", " \
				    "\"value\": \"5\"}, "
			for (e = 1; e <= ne; e++)
				printf "{\"name\": \"APP_SETTING_%02d_%03d\", \"value\": " \
				    "\"value-%02d-%03d-0123456789abcdef\"}%s", c, e, c, e, \
				    (e < ne ? ", " : "")
			printf "]},\n"
		}
	}' "$d/deploy-14k.json" >"$d/deploy-200k.json"
}

# bench_inventory_fleet N FILE: N Deployments in namespace fleet (role fleet_app of
# budget.yaml), 2 replicas, pool 10 set by the variable, as one multi-document YAML file.
bench_inventory_fleet() {
	local n=$1 out=$2
	awk -v n="$n" 'BEGIN {
		for (i = 0; i < n; i++) {
			printf "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
			printf "  name: svc-%05d\n  namespace: fleet\n", i
			printf "  labels: {app.kubernetes.io/name: svc-%05d, team: team-%02d}\n", i, i % 40
			printf "spec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n"
			printf "        - name: app\n          image: registry.example/fleet/svc-%05d:1.0.%d\n", i, i % 7
			printf "          env:\n"
			printf "            - {name: SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE, value: \"10\"}\n"
			printf "            - {name: JAVA_TOOL_OPTIONS, value: \"-XX:MaxRAMPercentage=75\"}\n"
		}
	}' >"$out"
}

# bench_start_poolguard NAME CONFIG [ARGS...]: serve with the certificate in $work/certs;
# sets pg_pid and pg_port; the log is $work/NAME.log. BENCH_LISTEN (default
# 127.0.0.1:0, a free port) is the address; with BENCH_QUIET_DECISIONS=1 the decision
# lines (one per request) are dropped on their way to the log by a grep of its own.
bench_start_poolguard() {
	local name=$1 config=$2 log out i
	shift 2
	log=$work/$name.log
	out=$log
	: >"$log"
	if [ "${BENCH_QUIET_DECISIONS:-0}" = 1 ]; then
		out=$work/$name.fifo
		rm -f "$out"
		mkfifo "$out"
		bench_spawn "$log" grep --line-buffered -v '"event":"decision"' "$out"
	fi
	bench_spawn "$out" "${bench_server_prefix[@]}" "$POOLGUARD" serve --config "$config" \
		--tls-cert "$work/certs/serving.crt" --tls-key "$work/certs/serving.key" \
		--listen "${BENCH_LISTEN:-127.0.0.1:0}" "$@"
	pg_pid=$spawned
	pg_port=
	for i in $(seq 600); do
		pg_port=$(grep -o '"event":"listening".*' "$log" 2>/dev/null |
			grep -o '"port":[0-9]*' | head -n1 | cut -d: -f2 || true)
		[ -n "$pg_port" ] && break
		kill -0 "$pg_pid" 2>/dev/null || break
		sleep 0.01
	done
	[ -n "$pg_port" ] || { cat "$log" >&2; bench_die "poolguard ($name) did not start"; }
	bench_wait_https "https://127.0.0.1:$pg_port/healthz" "$pg_pid" ||
		bench_die "poolguard ($name) does not answer on port $pg_port"
}

# A copy of the development certificates in $work/certs, so a test may replace them.
bench_certs() {
	[ -f "$CERTS/serving.crt" ] && [ -f "$CERTS/serving.key" ] && [ -f "$CERTS/ca.crt" ] ||
		bench_die "no certificates in $CERTS: run 'make certs'"
	mkdir -p "$work/certs"
	cp "$CERTS/ca.crt" "$CERTS/serving.crt" "$CERTS/serving.key" "$work/certs/"
	[ -f "$CERTS/ca.key" ] && cp "$CERTS/ca.key" "$work/certs/"
	return 0
}

# bench_post PORT FILE [PATH]: POSTs FILE as JSON; prints "STATUS BODY".
bench_post() {
	curl -s --max-time 10 --cacert "$work/certs/ca.crt" -H 'Content-Type: application/json' \
		--data-binary "@$2" -w '\n%{http_code}' "https://127.0.0.1:$1${3:-/validate}" |
		awk '{ lines[NR] = $0 } END { printf "%s", lines[NR]; for (i = 1; i < NR; i++) printf " %s", lines[i]; print "" }'
}

# bench_cpu_ticks PID: user + system clock ticks of PID and its children (nginx's worker).
bench_cpu_ticks() {
	local pid=$1 total child
	total=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0)
	for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
		total=$((total + $(bench_cpu_ticks "$child")))
	done
	echo "${total:-0}"
}

# bench_vm PID FIELD: VmRSS or VmHWM of a process, in KiB.
bench_vm() {
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null
}
