#!/usr/bin/env bash
# tests/bench/bench.sh - poolguard against nginx and Open Policy Agent, side by side in one
# run, all on 127.0.0.1 over TLS keep-alive, plus memory, instruction counts and
# admission latency by inventory size. `make bench` runs it.
#
# Servers (each with the development certificate of certs/out):
#   nginx      one worker; reads the whole body into memory (echo_read_request_body of
#              the echo module, which Debian's nginx-light depends on) and answers 200
#              with a fixed AdmissionReview. The baseline: TLS + HTTP + reading the body.
#   poolguard  `poolguard serve` with tests/bench/budget.yaml and inventory.yaml (the
#              payloads' namespaces are managed, the scale payload's Deployment is known),
#              its decision log (one line per request) appended to a file.
#   opa        `opa run --server` with tests/bench/opa/policy.rego, POST
#              /v0/data/poolguard/review (raw AdmissionReview in, the document out),
#              --log-level error. Built from the Go module proxy at the version pinned
#              in tests/bench/opa/go.mod, cached in ~/.cache/poolguard-bench/bin.
#   poolguard-10k  poolguard again, with 10,000 more Deployments in its inventory.
# Payloads: a kubectl scale review (1.3 KB), the 13,905-byte Deployment UPDATE of the
# performance notes, and the same grown to about 200 KB (see lib.sh).
# Load: wrk -t1 -c16, a warm-up, then BENCH_SECONDS per case, with tests/bench/post.lua.
#
# Environment:
#   BENCH_SECONDS (10)  BENCH_WARMUP (2)  BENCH_CONNECTIONS (16)  BENCH_THREADS (1)
#   BENCH_FLEET (10000)      Deployments in the poolguard-10k inventory
#   BENCH_PAYLOADS ("scale deploy-14k deploy-200k")  a subset, to repeat one case
#   BENCH_PIN=1              wrk on CPU 0, the servers on the other CPUs
#   BENCH_OPA=0              leave OPA out (no Go toolchain)
#   BENCH_CALLGRIND=0        leave out the instruction counts (no valgrind)
#   BENCH_STRICT=1           exit 1 when a target is missed (default: only on errors)
#   BENCH_KEEP=1             keep the temporary directory (logs, configs, wrk output)
#   POOLGUARD_BIN, POOLGUARD_BENCH_CACHE, CC
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_WARMUP=${BENCH_WARMUP:-2}
BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-16}
BENCH_THREADS=${BENCH_THREADS:-1}
BENCH_FLEET=${BENCH_FLEET:-10000}
BENCH_OPA=${BENCH_OPA:-1}
BENCH_CALLGRIND=${BENCH_CALLGRIND:-1}
BENCH_STRICT=${BENCH_STRICT:-0}
ECHO_MODULE=${BENCH_NGINX_ECHO_MODULE:-/usr/lib/nginx/modules/ngx_http_echo_module.so}

errors=0
fail() { bench_log "FAIL: $*"; errors=$((errors + 1)); }

for tool in wrk nginx curl awk pkg-config "${CC:-cc}"; do
	command -v "$tool" >/dev/null || bench_die "'$tool' is not installed (see tests/bench/bench.mk)"
done
[ -f "$ECHO_MODULE" ] || bench_die "no nginx echo module at $ECHO_MODULE (Debian: libnginx-mod-http-echo)"
if [ ! -x "$POOLGUARD" ] || [ ! -f "$root/build/libpoolguard.a" ]; then bench_die "build first: make all"; fi
if [ "$BENCH_CALLGRIND" = 1 ] && ! command -v valgrind >/dev/null; then
	bench_log "valgrind is not installed: no instruction counts"
	BENCH_CALLGRIND=0
fi

# ---------------------------------------------------------------- builds

# The driver links build/libpoolguard.a with the libraries the Makefile's PKGS names
# (BENCH_PKGS, which the including Makefile passes; else read from the Makefile).
driver=$work/callgrind_driver
pkgs=${BENCH_PKGS:-$(sed -n 's/^PKGS[[:space:]]*:*=[[:space:]]*//p' "$root/Makefile" 2>/dev/null | head -n1)}
pkgs=${pkgs:-libmicrohttpd libcjson yaml-0.1 openssl libcurl gnutls}
# shellcheck disable=SC2046,SC2086
"${CC:-cc}" -std=c11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -I"$root/include" \
	-o "$driver" "$bench_dir/callgrind_driver.c" "$root/build/libpoolguard.a" \
	$(pkg-config --cflags --libs $pkgs) -lm -lpthread || bench_die "cannot build callgrind_driver.c"

# OPA from the Go module proxy, at the version tests/bench/opa/go.mod pins; skipped when
# the cached binary was built from the same go.mod and go.sum.
build_opa() {
	local mod=$bench_dir/opa bin=$BENCH_CACHE/bin key stamp tmp
	command -v go >/dev/null || { bench_log "go is not installed: no OPA"; return 1; }
	mkdir -p "$bin"
	key="opa $(cd "$mod" && GOWORK=off GOFLAGS=-mod=readonly go list -m -f '{{.Version}}' \
		github.com/open-policy-agent/opa) $(cat "$mod/go.mod" "$mod/go.sum" | sha256sum | cut -c1-16)"
	stamp=$bin/.opa.stamp
	opa=$bin/opa
	if [ -x "$opa" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ]; then
		return 0
	fi
	bench_log "building $key (a few minutes the first time)"
	tmp=$opa.tmp.$$
	if ! (cd "$mod" && GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0 \
		go build -trimpath -ldflags="-s -w" -o "$tmp" github.com/open-policy-agent/opa); then
		rm -f "$tmp"
		bench_log "building OPA failed"
		return 1
	fi
	mv -f "$tmp" "$opa"
	printf '%s\n' "$key" >"$stamp"
}
opa=
if [ "$BENCH_OPA" = 1 ] && ! build_opa; then
	opa=
	fail "OPA could not be built: its rows are missing"
fi

# ---------------------------------------------------------------- inputs

bench_certs
bench_payloads
read -r -a payloads <<<"${BENCH_PAYLOADS:-scale deploy-14k deploy-200k}"
declare -A payload_label
pfiles=()
for p in "${payloads[@]}"; do
	pfiles+=("$work/payloads/$p.json")
	payload_label[$p]="${p%%-*} $(( ($(wc -c <"$work/payloads/$p.json") + 512) / 1024 ))KB"
done
budget=$bench_dir/budget.yaml
inventory=$bench_dir/inventory.yaml
bench_inventory_fleet "$BENCH_FLEET" "$work/fleet.yaml"

# ---------------------------------------------------------------- servers

# BENCH_PIN=1: wrk on CPU 0, the servers on the others (default: the scheduler decides,
# as in the performance notes).
wrk_cmd=(wrk)
bench_server_prefix=()
if [ "${BENCH_PIN:-0}" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
	wrk_cmd=(taskset -c 0 wrk)
	bench_server_prefix=(taskset -c "1-$(($(nproc) - 1))")
fi

fixed_response='{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"00000000-0000-0000-0000-000000000000","allowed":true}}'

start_nginx() {
	local d=$work/nginx run_user=""
	mkdir -p "$d/tmp"
	nginx_port=$(bench_free_port)
	# As root the worker would switch to nobody, who cannot enter the temporary directory.
	[ "$(id -u)" = 0 ] && run_user="user root;"
	cat >"$d/nginx.conf" <<EOF
load_module $ECHO_MODULE;
$run_user
daemon off;
master_process on;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $d/tmp/body;
	proxy_temp_path $d/tmp/proxy;
	fastcgi_temp_path $d/tmp/fastcgi;
	uwsgi_temp_path $d/tmp/uwsgi;
	scgi_temp_path $d/tmp/scgi;
	keepalive_timeout 60s;
	keepalive_requests 10000000;
	server {
		listen 127.0.0.1:$nginx_port ssl;
		ssl_certificate $work/certs/serving.crt;
		ssl_certificate_key $work/certs/serving.key;
		ssl_protocols TLSv1.2 TLSv1.3;
		# The whole body is read into one memory buffer before the answer, as a
		# webhook must: echo_read_request_body in the content phase (return would
		# answer in the rewrite phase and only discard the body).
		client_max_body_size 4m;
		client_body_buffer_size 1m;
		client_body_in_single_buffer on;
		default_type application/json;
		location = /validate {
			echo_read_request_body;
			echo -n '$fixed_response';
		}
		# The same reading, answered with what was read: checks the body was read whole.
		location = /echo-body {
			echo_read_request_body;
			echo -n \$request_body;
		}
	}
}
EOF
	nginx -t -q -p "$d" -c "$d/nginx.conf" -e "$d/error.log" 2>"$d/check.log" ||
		{ cat "$d/check.log" >&2; bench_die "nginx configuration rejected"; }
	bench_spawn "$d/stdout.log" "${bench_server_prefix[@]}" nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log"
	nginx_pid=$spawned
	bench_wait_https "https://127.0.0.1:$nginx_port/validate" "$nginx_pid" ||
		{ cat "$d/error.log" >&2; bench_die "nginx did not start"; }
}

start_opa() {
	opa_port=$(bench_free_port)
	bench_spawn "$work/opa.log" "${bench_server_prefix[@]}" "$opa" run --server --skip-version-check \
		--addr "127.0.0.1:$opa_port" --log-level error \
		--tls-cert-file "$work/certs/serving.crt" --tls-private-key-file "$work/certs/serving.key" \
		"$bench_dir/opa/policy.rego"
	opa_pid=$spawned
	bench_wait_https "https://127.0.0.1:$opa_port/health" "$opa_pid" 60 ||
		{ cat "$work/opa.log" >&2; bench_die "opa did not start"; }
}

start_nginx
bench_start_poolguard poolguard "$budget" --inventory "$inventory"
pool_pid=$pg_pid pool_port=$pg_port
pool_rss_idle=$(bench_vm "$pool_pid" VmRSS)
[ -n "$opa" ] && start_opa

declare -A url_of pid_of
url_of[nginx]="https://127.0.0.1:$nginx_port/validate"
url_of[poolguard]="https://127.0.0.1:$pool_port/validate"
pid_of[nginx]=$nginx_pid
pid_of[poolguard]=$pool_pid
servers=(nginx poolguard)
if [ -n "$opa" ]; then
	url_of[opa]="https://127.0.0.1:$opa_port/v0/data/poolguard/review"
	pid_of[opa]=$opa_pid
	servers+=(opa)
fi

# Every server answers every payload with 200 and an AdmissionReview; nginx's echo of the
# body is the body, byte for byte.
check_answers() {
	local s p out path port
	for s in "$@"; do
		for p in "${payloads[@]}"; do
			path=${url_of[$s]#https://127.0.0.1:}
			port=${path%%/*}
			path=/${path#*/}
			out=$(bench_post "$port" "$work/payloads/$p.json" "$path")
			printf '%s %s %s\n' "$s" "$p" "$out" >>"$work/answers.txt"
			case $out in
				"200 "*'"kind":"AdmissionReview"'*'"allowed":'*) ;;
				*) fail "$s does not answer $p with an AdmissionReview: ${out:0:300}" ;;
			esac
		done
	done
}
check_answers "${servers[@]}"
for p in "${payloads[@]}"; do
	got=$(curl -s --cacert "$work/certs/ca.crt" -H 'Content-Type: application/json' \
		--data-binary "@$work/payloads/$p.json" "https://127.0.0.1:$nginx_port/echo-body" |
		sha256sum | cut -c1-64)
	[ "$got" = "$(sha256sum <"$work/payloads/$p.json" | cut -c1-64)" ] ||
		fail "nginx did not read the whole $p body"
done

# ---------------------------------------------------------------- load

declare -A rps p50 p99 errs hwm_after cpu
clk_tck=$(getconf CLK_TCK 2>/dev/null || echo 100)
# run_case SERVER PAYLOAD: a warm-up, then the measured run; results into the arrays.
run_case() {
	local s=$1 p=$2 out=$work/wrk-$1-$2.txt line ticks0 ticks1
	BENCH_BODY=$work/payloads/$p.json "${wrk_cmd[@]}" -t"$BENCH_THREADS" -c"$BENCH_CONNECTIONS" \
		-d"${BENCH_WARMUP}s" -s "$bench_dir/post.lua" "${url_of[$s]}" >/dev/null 2>&1 || true
	ticks0=$(bench_cpu_ticks "${pid_of[$s]}")
	BENCH_BODY=$work/payloads/$p.json "${wrk_cmd[@]}" -t"$BENCH_THREADS" -c"$BENCH_CONNECTIONS" \
		-d"${BENCH_SECONDS}s" --latency -s "$bench_dir/post.lua" "${url_of[$s]}" >"$out" 2>&1 ||
		fail "wrk against $s with $p failed"
	ticks1=$(bench_cpu_ticks "${pid_of[$s]}")
	line=$(grep '^BENCH ' "$out" || true)
	[ -n "$line" ] || { fail "no result from wrk against $s with $p"; cat "$out" >&2; return 0; }
	cpu[$s,$p]=$(awk -v t=$((ticks1 - ticks0)) -v hz="$clk_tck" -v n="$(sed 's/.* requests=\([0-9]*\).*/\1/' <<<"$line")" \
		'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / hz / n; else print "-" }')
	rps[$s,$p]=$(sed 's/.* rps=\([0-9.]*\).*/\1/' <<<"$line")
	p50[$s,$p]=$(sed 's/.* p50_us=\([0-9]*\).*/\1/' <<<"$line")
	p99[$s,$p]=$(sed 's/.* p99_us=\([0-9]*\).*/\1/' <<<"$line")
	errs[$s,$p]=$(awk '{ n = 0; for (i = 1; i <= NF; i++) if ($i ~ /^(connect|read|write|status|timeout)=/) { split($i, kv, "="); n += kv[2] } print n }' <<<"$line")
	[ "${errs[$s,$p]}" = 0 ] || fail "$s with $p: ${errs[$s,$p]} errors ($line)"
	kill -0 "${pid_of[$s]}" 2>/dev/null || fail "$s died under load"
	hwm_after[$s,$p]=$(bench_vm "${pid_of[$s]}" VmHWM)
	# The decision log of a 10 s run is over 100 MB: keep its tail only.
	if [ "${s%%-*}" = poolguard ]; then
		tail -n 5 "$work/$s.log" >"$work/$s.log.tail"
		: >"$work/$s.log"
	fi
}

for p in "${payloads[@]}"; do
	for s in "${servers[@]}"; do
		bench_log "load: $s, $p, ${BENCH_SECONDS}s"
		run_case "$s" "$p"
	done
done
pool_rss=$(bench_vm "$pool_pid" VmRSS)

# poolguard with a large inventory: memory at rest, then the same load.
bench_start_poolguard poolguard-10k "$budget" --inventory "$inventory" --inventory "$work/fleet.yaml"
fleet_pid=$pg_pid
url_of[poolguard-10k]="https://127.0.0.1:$pg_port/validate"
pid_of[poolguard-10k]=$fleet_pid
fleet_workloads=$(grep -o '"inventoryWorkloads":[0-9]*' "$work/poolguard-10k.log" | head -n1 |
	cut -d: -f2)
fleet_rss_idle=$(bench_vm "$fleet_pid" VmRSS)
check_answers poolguard-10k
for p in "${payloads[@]}"; do
	bench_log "load: poolguard-10k, $p, ${BENCH_SECONDS}s"
	run_case poolguard-10k "$p"
done
fleet_rss=$(bench_vm "$fleet_pid" VmRSS)
fleet_hwm=$(bench_vm "$fleet_pid" VmHWM)

# Every server's verdicts are the same as before the load (a deny stays a deny).
deny=$(bench_post "$pool_port" "$work/payloads/scale-deny.json")
case $deny in
	'200 '*'"allowed":false'*"240 of 200"*) ;;
	*) fail "poolguard's verdict on scale-deny changed: ${deny:0:200}" ;;
esac

# ---------------------------------------------------------------- engine alone

declare -A ir
# ir_count PAYLOAD FILL N [DRIVER-OPTION]: instructions callgrind counts in driver_loop
# for N admissions.
ir_count() {
	local out=$work/callgrind.$1.$2.$3${4:-}
	valgrind --tool=callgrind --toggle-collect=driver_loop --callgrind-out-file="$out" \
		"$driver" --config "$budget" --inventory "$inventory" --fill "$2" \
		--fill-role fleet_app --count "$3" ${4:+"$4"} "$work/payloads/$1.json" \
		>/dev/null 2>"$out.log" || { fail "callgrind run failed ($1, $2, $3)"; echo 0; return 0; }
	awk '/^totals:/ { print $2 }' "$out"
}
# ir_per PAYLOAD FILL [DRIVER-OPTION]: (Ir(2n) - Ir(n)) / n, n about 1 MB of body, 10 to 1000.
ir_per() {
	local len n a b
	len=$(wc -c <"$work/payloads/$1.json")
	n=$((1000000 / len))
	[ "$n" -ge 10 ] || n=10
	[ "$n" -le 1000 ] || n=1000
	a=$(ir_count "$1" "$2" "$n" "${3:-}")
	b=$(ir_count "$1" "$2" $((2 * n)) "${3:-}")
	echo $(((b - a) / n))
}
# The driver installs poolguard's per-request cJSON arena as `serve` does, when the library
# has one; the counts without it show what the arena saves.
driver_arena=$("$driver" --config "$budget" --count 0 "$work/payloads/scale.json" | awk '/^workloads/ { print $4 }')
if [ "$BENCH_CALLGRIND" = 1 ]; then
	for p in "${payloads[@]}"; do
		bench_log "callgrind: $p"
		ir[$p]=$(ir_per "$p" 0)
		if [ "$driver_arena" = yes ]; then
			ir[$p,malloc]=$(ir_per "$p" 0 --no-arena)
		fi
	done
	bench_log "callgrind: scale with 100 and 100,000 Deployments"
	ir[scale,100]=$(ir_per scale 100)
	ir[scale,100000]=$(ir_per scale 100000)
fi

declare -A lat
sizes=(100 10000 100000)
for n in "${sizes[@]}"; do
	bench_log "latency: $n Deployments"
	out=$work/latency-$n.txt
	"$driver" --config "$budget" --inventory "$inventory" --fill "$n" --fill-role fleet_app \
		--print --time 5 "${pfiles[@]}" >"$out" 2>&1 || true
	for p in "${payloads[@]}"; do
		lat[$p,$n]=$(awk -v f="$work/payloads/$p.json" '$1 == "time" && $2 == f { print $4 }' "$out")
		[ -n "${lat[$p,$n]}" ] || fail "no latency for $p with $n Deployments"
	done
	grep '^{' "$out" >"$out.verdicts" || true
done
for n in "${sizes[@]}"; do
	cmp -s "$work/latency-100.txt.verdicts" "$work/latency-$n.txt.verdicts" ||
		fail "verdicts differ between 100 and $n Deployments"
done

# ---------------------------------------------------------------- report

fmt_int() { printf '%s' "${1%.*}" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }
ms() { awk -v u="$1" 'BEGIN { printf "%.3f", u / 1000 }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else printf "-" }'; }
ratio() { awk -v a="$1" -v b="$2" -v d="${3:-1}" 'BEGIN { if (b > 0) printf "%.*fx", d, a / b; else printf "-" }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }

echo
echo "poolguard benchmark: $(nproc) cores, wrk -t$BENCH_THREADS -c$BENCH_CONNECTIONS -d${BENCH_SECONDS}s" \
	"(+${BENCH_WARMUP}s warm-up), TLS keep-alive on 127.0.0.1, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "nginx $(nginx -v 2>&1 | sed 's|.*/||'), 1 worker, echo_read_request_body;" \
	"opa $([ -n "$opa" ] && "$opa" version 2>/dev/null | awk '/^Version/ { print $2 }' || echo absent), --log-level error;" \
	"poolguard: decision log at info to a file"
echo
printf '%-14s %-13s %10s %9s %9s %9s %9s %10s %7s\n' server payload "req/s" "p50 ms" "p99 ms" \
	"vs nginx" "vs OPA" "CPU us/req" errors
printf '%-14s %-13s %10s %9s %9s %9s %9s %10s %7s\n' -------------- ------------- ---------- \
	--------- --------- --------- --------- ---------- -------
for p in "${payloads[@]}"; do
	for s in "${servers[@]}" poolguard-10k; do
		[ -n "${rps[$s,$p]:-}" ] || continue
		vs_opa=-
		if [ "${s%%-*}" = poolguard ] && [ -n "${rps[opa,$p]:-}" ]; then
			vs_opa=$(ratio "${rps[$s,$p]}" "${rps[opa,$p]}")
		fi
		printf '%-14s %-13s %10s %9s %9s %9s %9s %10s %7s\n' "$s" "${payload_label[$p]}" \
			"$(fmt_int "${rps[$s,$p]}")" "$(ms "${p50[$s,$p]}")" "$(ms "${p99[$s,$p]}")" \
			"$(pct "${rps[$s,$p]}" "${rps[nginx,$p]:-0}")" "$vs_opa" "${cpu[$s,$p]}" "${errs[$s,$p]}"
	done
done
echo
mem_line() {	# mem_line SERVER: VmHWM after each payload's runs
	local out="" p
	for p in "${payloads[@]}"; do
		[ -n "${hwm_after[$1,$p]:-}" ] && out+=" ${payload_label[$p]} $(mib "${hwm_after[$1,$p]}"),"
	done
	printf '%s' "${out%,}"
}
echo "poolguard memory: $(mib "$pool_rss_idle") VmRSS at rest; VmHWM after the runs of$(mem_line poolguard);" \
	"VmRSS at the end $(mib "$pool_rss")"
echo "poolguard-10k (${fleet_workloads:-?} workloads, $BENCH_FLEET generated Deployments): $(mib "$fleet_rss_idle")" \
	"VmRSS at rest; VmHWM after the runs of$(mem_line poolguard-10k); VmRSS at the end $(mib "$fleet_rss")"
if [ "$BENCH_CALLGRIND" = 1 ]; then
	line="instructions per admission (callgrind Ir, webhook_review alone, no log, arena: $driver_arena):"
	for p in "${payloads[@]}"; do
		line+=" ${payload_label[$p]} $(fmt_int "${ir[$p]}")"
		[ -n "${ir[$p,malloc]:-}" ] && line+=" (with malloc $(fmt_int "${ir[$p,malloc]}"))"
		line+=";"
	done
	echo "${line%;}"
fi
echo
printf '%-22s %12s %12s %12s   (microseconds per admission, best of 5, webhook_review alone)\n' \
	"Deployments in inventory" "$(fmt_int 100)" "$(fmt_int 10000)" "$(fmt_int 100000)"
for p in "${payloads[@]}"; do
	printf '%-22s %12s %12s %12s\n' "${payload_label[$p]}" "${lat[$p,100]:-}" "${lat[$p,10000]:-}" \
		"${lat[$p,100000]:-}"
done
if [ "$BENCH_CALLGRIND" = 1 ]; then
	printf '%-22s %12s %12s %12s\n' "scale, Ir" "$(fmt_int "${ir[scale,100]}")" "" \
		"$(fmt_int "${ir[scale,100000]}")"
fi

# ---------------------------------------------------------------- targets

missed=0
target() {	# target PASS|MISS TEXT
	[ "$1" = PASS ] || missed=$((missed + 1))
	printf '  %-4s  %s\n' "$1" "$2"
}
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
P=deploy-14k
echo
echo "targets (on the 14 KB payload unless said):"
if [ -n "${rps[poolguard,$P]:-}" ] && [ -n "${rps[nginx,$P]:-}" ]; then
	ge "${rps[poolguard,$P]}" "$(awk -v n="${rps[nginx,$P]}" 'BEGIN { print n / 2 }')" && v=PASS || v=MISS
	target "$v" "throughput >= 50% of nginx: $(fmt_int "${rps[poolguard,$P]}") vs $(fmt_int "${rps[nginx,$P]}") req/s = $(pct "${rps[poolguard,$P]}" "${rps[nginx,$P]}") (CPU per request ${cpu[poolguard,$P]} vs ${cpu[nginx,$P]} us: $(pct "${cpu[nginx,$P]}" "${cpu[poolguard,$P]}") of nginx's efficiency)"
else
	target MISS "throughput >= 50% of nginx: not measured"
fi
if [ -n "${rps[opa,$P]:-}" ] && [ -n "${rps[poolguard,$P]:-}" ]; then
	ge "${rps[poolguard,$P]}" "$(awk -v n="${rps[opa,$P]}" 'BEGIN { print n * 5 }')" && v=PASS || v=MISS
	target "$v" "throughput >= 5x OPA: $(fmt_int "${rps[poolguard,$P]}") vs $(fmt_int "${rps[opa,$P]}") req/s = $(ratio "${rps[poolguard,$P]}" "${rps[opa,$P]}" 2) (CPU per request ${cpu[poolguard,$P]} vs ${cpu[opa,$P]} us: $(ratio "${cpu[opa,$P]}" "${cpu[poolguard,$P]}"))"
else
	target MISS "throughput >= 5x OPA: OPA not measured"
fi
if [ -n "${p99[poolguard,$P]:-}" ]; then
	[ "${p99[poolguard,$P]}" -lt 2000 ] && v=PASS || v=MISS
	target "$v" "p99 < 2 ms at $BENCH_CONNECTIONS connections: $(ms "${p99[poolguard,$P]}") ms (scale $(ms "${p99[poolguard,scale]:-0}") ms, 200 KB $(ms "${p99[poolguard,deploy-200k]:-0}") ms)"
fi
if [ -n "${hwm_after[poolguard-10k,$P]:-}" ]; then
	[ "${hwm_after[poolguard-10k,$P]}" -lt 16384 ] && v=PASS || v=MISS
	target "$v" "RSS < 16 MiB with $BENCH_FLEET Deployments: VmHWM $(mib "${hwm_after[poolguard-10k,$P]}") through the 14 KB runs (at rest $(mib "$fleet_rss_idle"); $(mib "$fleet_hwm") after the 200 KB runs)"
fi
flat=PASS flat_text=""
for p in "${payloads[@]}"; do
	r=$(awk -v a="${lat[$p,100]:-0}" -v b="${lat[$p,10000]:-0}" -v c="${lat[$p,100000]:-0}" 'BEGIN {
		lo = a; hi = a; if (b < lo) lo = b; if (c < lo) lo = c; if (b > hi) hi = b; if (c > hi) hi = c
		if (lo <= 0) print "0"; else printf "%.2f", hi / lo }')
	awk -v r="$r" 'BEGIN { exit !(r > 0 && r <= 1.25) }' || flat=MISS
	flat_text+=" ${payload_label[$p]} ${lat[$p,100]:-?}/${lat[$p,10000]:-?}/${lat[$p,100000]:-?} us (x$r);"
done
if [ "$BENCH_CALLGRIND" = 1 ]; then
	awk -v a="${ir[scale,100]}" -v b="${ir[scale,100000]}" 'BEGIN { exit !(a > 0 && b <= a * 1.02) }' || flat=MISS
	flat_text+=" Ir $(fmt_int "${ir[scale,100]}")/$(fmt_int "${ir[scale,100000]}");"
fi
target "$flat" "latency flat from 100 to 100,000 Deployments (slowest/fastest <= 1.25, Ir within 2%):${flat_text%;}"
echo
echo "$missed targets missed, $errors errors"
if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "logs and wrk output: $work"; fi
[ "$errors" = 0 ] || exit 1
[ "$BENCH_STRICT" = 1 ] && [ "$missed" -gt 0 ] && exit 1
exit 0
