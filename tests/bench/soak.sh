#!/usr/bin/env bash
# tests/bench/soak.sh - poolguard under sustained load, and what must not break it.
# `make soak` runs it; everything on 127.0.0.1, in a temporary directory, every process
# it starts stopped on exit. The checks:
#
#   soak       SOAK_SECONDS (60) of wrk -c256 POSTing the 14 KB Deployment review: no
#              socket error and no response other than 2xx; VmRSS sampled every
#              SOAK_SAMPLE (5) s, flat within 1 MiB after SOAK_WARMUP (15) s.
#   budget     under load, the budget file replaced by binary garbage, then by broken
#              YAML: each time the log says reload_failed, the verdicts are the same
#              byte for byte, wrk sees no error; then a good budget with a higher
#              limit is picked up (the deny turns into an allow), and the first comes back.
#   cert       under load, `FORCE=1 sh certs/make-certs.sh` issues a new serving
#              certificate from the same CA: new handshakes get it, wrk sees no error.
#   restart    under load, SIGKILL and an immediate restart on the same port: serving
#              again (a 200 from /validate) within a second of the kill, then a run
#              with no error.
#
# Ends with "N passed, N failed"; exits 1 if any failed.
# Environment: SOAK_SECONDS (60), SOAK_CONNECTIONS (256), SOAK_THREADS (1),
# SOAK_SAMPLE (5), SOAK_WARMUP (15), SOAK_PHASE_SECONDS (10, each of budget, cert and
# restart), BENCH_KEEP=1 keeps the temporary directory, POOLGUARD_BIN.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SOAK_SECONDS=${SOAK_SECONDS:-60}
SOAK_CONNECTIONS=${SOAK_CONNECTIONS:-256}
SOAK_THREADS=${SOAK_THREADS:-1}
SOAK_SAMPLE=${SOAK_SAMPLE:-5}
SOAK_WARMUP=${SOAK_WARMUP:-15}
SOAK_PHASE_SECONDS=${SOAK_PHASE_SECONDS:-10}

passed=0
failed=0
ok() { passed=$((passed + 1)); printf 'ok - %s\n' "$*"; }
not_ok() { failed=$((failed + 1)); printf 'not ok - %s\n' "$*"; }
check() {	# check CONDITION-EXIT-STATUS TEXT
	if [ "$1" = 0 ]; then ok "$2"; else not_ok "$2"; fi
}
summary() {
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
}

for tool in wrk curl openssl awk; do
	command -v "$tool" >/dev/null || bench_die "'$tool' is not installed (see tests/bench/bench.mk)"
done
[ -x "$POOLGUARD" ] || bench_die "build first: make all"

bench_certs
bench_payloads
cp "$bench_dir/budget.yaml" "$work/budget.yaml"
budget=$work/budget.yaml
body=$work/payloads/deploy-14k.json

# One poolguard at a time, on one port (kept across the restart), decision lines dropped
# on the way to the log so that a minute at full speed does not fill the disk.
port=$(bench_free_port)
export BENCH_LISTEN=127.0.0.1:$port BENCH_QUIET_DECISIONS=1
instance=0
start() {
	instance=$((instance + 1))
	bench_start_poolguard "poolguard-$instance" "$budget" --inventory "$bench_dir/inventory.yaml"
	log=$work/poolguard-$instance.log
}
start

# wrk_start SECONDS NAME: wrk in the background against /validate; wrk_pid, result in
# $work/wrk-NAME.txt.
wrk_start() {
	BENCH_BODY=$body bench_spawn "$work/wrk-$2.txt" wrk -t"$SOAK_THREADS" -c"$SOAK_CONNECTIONS" \
		-d"$1s" --latency -s "$bench_dir/post.lua" "https://127.0.0.1:$port/validate"
	wrk_pid=$spawned
}
wrk_wait() { bench_reap "$wrk_pid"; }
# wrk_errors NAME: socket errors plus non-2xx/3xx responses, or "none" without a result.
wrk_field() { grep -o " $2=[0-9.]*" "$work/wrk-$1.txt" | cut -d= -f2; }
wrk_errors() {
	local line
	line=$(grep '^BENCH ' "$work/wrk-$1.txt" || true)
	[ -n "$line" ] || { echo none; return; }
	awk '{ n = 0; for (i = 1; i <= NF; i++) if ($i ~ /^(connect|read|write|status|timeout)=/) { split($i, kv, "="); n += kv[2] } print n }' <<<"$line"
}
wrk_summary() {
	printf '%s requests, %s req/s, p50 %s ms, p99 %s ms, errors: %s' \
		"$(wrk_field "$1" requests)" "$(wrk_field "$1" rps)" \
		"$(awk -v u="$(wrk_field "$1" p50_us)" 'BEGIN { printf "%.2f", u / 1000 }')" \
		"$(awk -v u="$(wrk_field "$1" p99_us)" 'BEGIN { printf "%.2f", u / 1000 }')" \
		"$(grep '^BENCH ' "$work/wrk-$1.txt" | grep -o 'connect=.*')"
}

# ---------------------------------------------------------------- soak

echo "# soak: ${SOAK_SECONDS}s, wrk -t$SOAK_THREADS -c$SOAK_CONNECTIONS, 14 KB review, port $port"
wrk_start "$SOAK_SECONDS" soak
t0=$(date +%s%N)
samples=()
while kill -0 "$wrk_pid" 2>/dev/null; do
	sleep "$SOAK_SAMPLE"
	kill -0 "$wrk_pid" 2>/dev/null || break
	t=$(( ($(date +%s%N) - t0) / 1000000000 ))
	rss=$(bench_vm "$pg_pid" VmRSS)
	samples+=("$t:$rss")
	printf '#   %3ss VmRSS %s KiB\n' "$t" "$rss"
done
wrk_wait
echo "#   $(wrk_summary soak)"
[ "$(wrk_errors soak)" = 0 ]
check $? "soak: $(wrk_field soak requests) requests at $SOAK_CONNECTIONS connections, no socket error, no non-2xx response"
read -r lo hi n < <(printf '%s\n' "${samples[@]}" | awk -F: -v w="$SOAK_WARMUP" '
	$1 >= w { if (n == 0 || $2 < lo) lo = $2; if (n == 0 || $2 > hi) hi = $2; n++ }
	END { print lo + 0, hi + 0, n + 0 }')
[ "$n" -ge 2 ] && [ $((hi - lo)) -le 1024 ]
check $? "soak: VmRSS flat after ${SOAK_WARMUP}s: $n samples from $lo to $hi KiB ($((hi - lo)) KiB apart, limit 1024)"
kill -0 "$pg_pid" 2>/dev/null
check $? "soak: the server is still running"

# ---------------------------------------------------------------- budget

# verdicts FILE: the answers to the denied scale and to the 14 KB review.
verdicts() {
	bench_post "$port" "$work/payloads/scale-deny.json" >"$1"
	bench_post "$port" "$body" >>"$1"
}
reload_failures() { grep -c '"event":"reload_failed"' "$log" || true; }
# wait_for_log PATTERN COUNT SECONDS: until PATTERN is in the log COUNT times.
wait_for_log() {
	local i
	for i in $(seq $(($3 * 20))); do
		[ "$(grep -c "$1" "$log" || true)" -ge "$2" ] && return 0
		sleep 0.05
	done
	return 1
}
# replace FILE: writes stdin beside the budget and renames it into place.
replace_budget() { cat >"$budget.new"; mv -f "$budget.new" "$budget"; }

echo "# budget: replaced under load"
verdicts "$work/verdicts-before.txt"
grep -q '^200 .*"allowed":false.*240 of 200' "$work/verdicts-before.txt"
check $? "budget: the 11-replica scale is denied before (240 of 200)"
wrk_start "$SOAK_PHASE_SECONDS" budget
sleep 1
good=$(cat "$budget")
failures=$(reload_failures)
head -c 3000 /dev/urandom | replace_budget
wait_for_log '"event":"reload_failed"' $((failures + 1)) 5
check $? "budget: binary garbage is refused: $(grep '"event":"reload_failed"' "$log" | tail -n1 | grep -o '"message":"[^"]*' | cut -c12-130)"
verdicts "$work/verdicts-garbage.txt"
cmp -s "$work/verdicts-before.txt" "$work/verdicts-garbage.txt"
check $? "budget: verdicts unchanged after the garbage"
printf 'cluster:\n  maxConnections: [300\nroles:\n  - name: x\n    connectionLimit: "lots"\n' | replace_budget
wait_for_log '"event":"reload_failed"' $((failures + 2)) 5
check $? "budget: broken YAML is refused: $(grep '"event":"reload_failed"' "$log" | tail -n1 | grep -o '"message":"[^"]*' | cut -c12-130)"
verdicts "$work/verdicts-broken.txt"
cmp -s "$work/verdicts-before.txt" "$work/verdicts-broken.txt"
check $? "budget: verdicts unchanged after the broken YAML"
reloads=$(grep -c '"event":"reloaded"' "$log" || true)
printf '%s\n' "$good" | sed 's/connectionLimit: 200$/connectionLimit: 250/' | replace_budget
wait_for_log '"event":"reloaded"' $((reloads + 1)) 5
bench_post "$port" "$work/payloads/scale-deny.json" | grep -q '^200 .*"allowed":true'
check $? "budget: a good budget after the garbage is loaded (limit 250: the same scale is allowed)"
printf '%s\n' "$good" | replace_budget
wait_for_log '"event":"reloaded"' $((reloads + 2)) 5
verdicts "$work/verdicts-after.txt"
cmp -s "$work/verdicts-before.txt" "$work/verdicts-after.txt"
check $? "budget: the first budget back, the first verdicts back"
wrk_wait
echo "#   $(wrk_summary budget)"
[ "$(wrk_errors budget)" = 0 ]
check $? "budget: no request failed while the budget was replaced"

# ---------------------------------------------------------------- cert

fingerprint() {
	openssl s_client -connect "127.0.0.1:$port" -servername localhost </dev/null 2>/dev/null |
		openssl x509 -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2
}
echo "# cert: a new serving certificate under load"
before=$(fingerprint)
wrk_start "$SOAK_PHASE_SECONDS" cert
sleep 1
FORCE=1 sh "$root/certs/make-certs.sh" "$work/certs" >/dev/null
new=$(openssl x509 -noout -fingerprint -sha256 -in "$work/certs/serving.crt" | cut -d= -f2)
for i in $(seq 60); do
	[ "$(fingerprint)" = "$new" ] && break
	sleep 0.1
done
after=$(fingerprint)
[ -n "$before" ] && [ "$before" != "$new" ] && [ "$after" = "$new" ]
check $? "cert: new handshakes get the new certificate (${before:0:11}... -> ${after:0:11}...)"
curl -s -o /dev/null --cacert "$work/certs/ca.crt" "https://127.0.0.1:$port/healthz"
check $? "cert: the new certificate verifies against the same CA"
wrk_wait
echo "#   $(wrk_summary cert)"
[ "$(wrk_errors cert)" = 0 ]
check $? "cert: no request failed while the certificate was replaced"

# ---------------------------------------------------------------- restart

echo "# restart: SIGKILL under load"
wrk_start "$SOAK_PHASE_SECONDS" kill
sleep 2
old_pid=$pg_pid
t_kill=$(date +%s%N)
kill -KILL "$old_pid"
bench_reap "$old_pid"
t_dead=$(date +%s%N)
start
t_up=$(date +%s%N)
served=""
for i in $(seq 500); do
	if bench_post "$port" "$work/payloads/scale-deny.json" | grep -q '^200 .*"allowed":false'; then
		served=$(date +%s%N)
		break
	fi
	sleep 0.002
done
wrk_wait
ms() { echo $((($1 - $2) / 1000000)); }
if [ -n "$served" ]; then
	echo "#   killed; restarted $(ms "$t_up" "$t_kill") ms after the kill (start to healthz: $(ms "$t_up" "$t_dead") ms); first verdict $(ms "$served" "$t_kill") ms after the kill"
	[ "$(ms "$served" "$t_kill")" -lt 1000 ]
	check $? "restart: serving again $(ms "$served" "$t_kill") ms after SIGKILL (limit 1000)"
else
	not_ok "restart: not serving again after SIGKILL"
fi
echo "#   during the kill: $(wrk_summary kill)"
wrk_start 5 after-restart
wrk_wait
echo "#   $(wrk_summary after-restart)"
[ "$(wrk_errors after-restart)" = 0 ]
check $? "restart: no error in a run after the restart"

summary
