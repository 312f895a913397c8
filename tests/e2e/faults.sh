# Sourced by tests/e2e/run.sh: faults of the API server under a running poolguard.
# shellcheck shell=bash
# run.sh's variables are set there, and it reads fault_scenarios:
# shellcheck disable=SC2034,SC2154
#
# Namespace faults, role faults_app (limit 100 connections, in run.sh's write_budget): only these
# scenarios touch it, so its sums are kept in the comments. They run last, against the poolguard
# on $pg_port registered as the webhook, and stop, start and pause kube-apiserver itself:
#   r. a restart: the watch resumes, and changes made right after it are counted
#   s. a watch from a resourceVersion the restarted API server no longer has (410 Gone): a relist
#      counts what changed meanwhile, a deletion included
#   t. a paused API server (SIGSTOP) and the reservation Lease: answers within the webhook
#      timeout, per reservationUnavailable
fault_scenarios="r s t"
fns=faults
fault_role='poolguard_role_connections{role="faults_app"}'

# pg_metric SAMPLE: the value of SAMPLE on poolguard's /metrics, empty when it has none.
pg_metric() {
	curl -s --max-time 5 --cacert certs/out/ca.crt "https://127.0.0.1:$pg_port/metrics" |
	    awk -v s="$1" '$1 == s {print $2; exit}'
}

# pg_metric_above SAMPLE N: the sample is above N.
pg_metric_above() {
	local v
	v=$(pg_metric "$1")
	[ -n "$v" ] && [ "${v%.*}" -gt "${2%.*}" ]
}

# fault_deploy NAME REPLICAS POOL: creates deployment faults/NAME with that pool size.
fault_deploy() {
	run k apply -f - <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1, namespace: $fns}
spec:
  replicas: $2
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1}}
    spec:
      containers:
        - name: app
          image: nginx
          env: [{name: $pool_var, value: "$3"}]
EOF
}

# fault_role_is N: poolguard counts N connections in role faults_app.
fault_role_is() {
	pg_metric_is "$fault_role" "$1"
}

# fault_readyz: GET /readyz of poolguard into ready_code and ready_body, and from the body
# ready_status, ready_synced, ready_open (watchesOpen) and ready_watches ("-" or -1 when absent).
fault_readyz() {
	local all
	all=$(curl -sS -w '\n%{http_code}' --max-time 5 --cacert certs/out/ca.crt \
	    "https://127.0.0.1:$pg_port/readyz" 2>&1)
	ready_code=${all##*$'\n'}
	ready_body=${all%$'\n'*}
	read -r ready_status ready_synced ready_open ready_watches < <(python3 -c '
import json, sys
try:
    d = json.loads(sys.argv[1])
except ValueError:
    d = {}
print(d.get("status", "-"), str(d.get("synced", "-")).lower(), int(d.get("watchesOpen", -1)),
      int(d.get("watches", -1)))' "$ready_body")
}

# fault_watches_down: /readyz counts fewer watches open than there are; fault_watches_up: all.
fault_watches_down() {
	fault_readyz
	[ "$ready_open" -ge 0 ] && [ "$ready_open" -lt "$ready_watches" ]
}
fault_watches_up() {
	fault_readyz
	[ "$ready_watches" -gt 0 ] && [ "$ready_open" -eq "$ready_watches" ]
}

# expect_ready WHEN: the last fault_readyz answered 200, status ok, synced.
expect_ready() {
	[ -n "$skip" ] && return 0
	note "/readyz $1: $ready_code $ready_body"
	expect_eq "/readyz status code $1" "$ready_code" 200
	expect_eq "/readyz status $1" "$ready_status" ok
	expect_eq "/readyz synced $1" "$ready_synced" true
}

# fault_api_back: starts kube-apiserver on $api_port again and waits for its /readyz.
# Returns 1 (with a problem recorded) when it does not come back.
fault_api_back() {
	local t
	t=$(now_ms)
	start_apiserver
	wait_until 90 apiserver_ready
	if ! kill -0 "$apiserver_pid" 2>/dev/null || ! apiserver_ready; then
		problem "kube-apiserver did not come back (see kube-apiserver.log)"
		return 1
	fi
	note "kube-apiserver ready again in $(since "$t")"
}

# fault_review NAME OLD NEW: the AdmissionReview the API server sends for a kubectl scale of
# deployment faults/NAME from OLD to NEW replicas (an autoscaling/v1 Scale), on stdout.
fault_review() {
	cat <<EOF
{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{
 "uid":"e2e-fault-$1-$2-$3-$(now_ms)",
 "kind":{"group":"autoscaling","version":"v1","kind":"Scale"},
 "resource":{"group":"apps","version":"v1","resource":"deployments"},
 "subResource":"scale",
 "requestKind":{"group":"autoscaling","version":"v1","kind":"Scale"},
 "requestResource":{"group":"apps","version":"v1","resource":"deployments"},
 "requestSubResource":"scale",
 "name":"$1","namespace":"$fns","operation":"UPDATE",
 "userInfo":{"username":"e2e-admin","groups":["system:masters","system:authenticated"]},
 "object":{"apiVersion":"autoscaling/v1","kind":"Scale",
  "metadata":{"name":"$1","namespace":"$fns"},"spec":{"replicas":$3}},
 "oldObject":{"apiVersion":"autoscaling/v1","kind":"Scale",
  "metadata":{"name":"$1","namespace":"$fns"},"spec":{"replicas":$2}},
 "dryRun":false}}
EOF
}

# fault_post BASE: POSTs BASE.json to poolguard's /validate with the API server's client
# certificate; the answer (or curl's error) in BASE.out, the milliseconds it took in BASE.ms.
fault_post() {
	local t0
	t0=$(now_ms)
	curl -sS --max-time 15 --cacert certs/out/ca.crt \
	    --cert certs/out/apiserver-client.crt --key certs/out/apiserver-client.key \
	    -H 'Content-Type: application/json' --data-binary "@$1.json" \
	    "https://127.0.0.1:$pg_port/validate" >"$1.out" 2>&1
	echo $(($(now_ms) - t0)) >"$1.ms"
}

# fault_answer BASE WHAT: reads what fault_post left: sets review_ms and, from the answer, allowed
# (true or false), message (the refusal's) and warnings (one a line); notes them as WHAT.
fault_answer() {
	review_ms=$(<"$1.ms")
	{
		IFS= read -r allowed
		IFS= read -r message
		warnings=$(cat)
	} < <(python3 -c '
import json, sys
try:
    r = json.load(open(sys.argv[1]))["response"]
except (ValueError, KeyError, TypeError):
    print("no AdmissionReview answer"); sys.exit(0)
print("true" if r.get("allowed") else "false")
print(r.get("status", {}).get("message", "").replace("\n", " "))
for w in r.get("warnings", []):
    print(w)
' "$1.out")
	note "$2: answered in $review_ms ms: $(<"$1.out")"
}

# fault_post_scale NAME OLD NEW: fault_review, fault_post and fault_answer in one.
fault_post_scale() {
	allowed="" message="" warnings="" review_ms=0
	[ -n "$skip" ] && return 0
	fault_review "$@" >"$tmp/fault-review.json"
	fault_post "$tmp/fault-review"
	fault_answer "$tmp/fault-review" "POST scale $1 $2 -> $3"
}

# expect_answer_within MS: the last fault_post_scale was answered in less than MS milliseconds.
expect_answer_within() {
	[ -n "$skip" ] || [ "$review_ms" -lt "$1" ] ||
	    problem "poolguard answered in $review_ms ms, not within $1 ms"
}

# r. kube-apiserver restarts under poolguard. fa 2 x 20 = 40 and fb 3 x 10 = 30: 70 of 100. While
#    the API server is down poolguard stays ready (it judges from the inventory it holds; nothing
#    can call it anyway), its /readyz counts fewer watches open than it has, and
#    watch_restarts_total counts the failures. After the restart every watch is open again; fb
#    to 1 (a decrease: poolguard learns of it only from its watch) and fc 1 x 10 (an admitted
#    increase, reserved) are counted: 40 + 10 + 10 = 60. Then fa to 5 (100 + 20 = 120 of 100) is
#    refused and fa to 4 (80 + 20 = 100 of 100) admitted. Usage 100: fa 80, fb 10, fc 10.
scenario_r() {
	local restarts relists

	begin "r1. namespace $fns: fa 2 x 20 and fb 3 x 10 are admitted and counted (70 of 100)"
	run k create namespace "$fns"
	expect_ok
	fault_deploy fa 2 20
	expect_ok
	fault_deploy fb 3 10
	expect_ok
	[ -n "$skip" ] || wait_until 20 fault_role_is 70 ||
	    problem "poolguard counts $(pg_metric "$fault_role") connections in faults_app, not 70"
	end

	begin "r2. kube-apiserver stopped: poolguard's /readyz still answers 200, with fewer watches open; the failures are counted"
	if [ -z "$skip" ]; then
		restarts=$(pg_metric poolguard_inventory_watch_restarts_total)
		relists=$(pg_metric poolguard_inventory_relists_total)
		stop_pid "$apiserver_pid"
		apiserver_pid=""
		note "kube-apiserver stopped (exit status $stop_status)"
		wait_until 15 pg_metric_above poolguard_inventory_watch_restarts_total "$restarts" ||
		    problem "watch_restarts_total stayed $restarts with the API server down"
		note "watch_restarts_total $restarts -> $(pg_metric poolguard_inventory_watch_restarts_total)"
		wait_until 10 fault_watches_down ||
		    problem "/readyz still counts every watch open with the API server down"
		expect_ready "with the API server down"
		grep -q '"watch_failed"' "$tmp/logs/poolguard.log" ||
		    problem "poolguard logged no watch_failed event"
	fi
	expect_eq "poolguard_inventory_synced with the API server down" \
	    "$(pg_metric poolguard_inventory_synced)" 1
	end

	begin "r3. kube-apiserver restarted: every watch open again; fb to 1 and fc 1 x 10 made right after are counted (60 of 100)"
	if [ -z "$skip" ]; then
		fault_api_back || skip="kube-apiserver did not come back"
	fi
	run k scale deployment/fb --replicas=1 -n "$fns"
	expect_ok
	run k create deployment fc --image=nginx --replicas=1 -n "$fns"
	expect_ok
	# 80 until the watch delivers fb's decrease (no reservation stands for a decrease).
	[ -n "$skip" ] || wait_until 40 fault_role_is 60 ||
	    problem "poolguard counts $(pg_metric "$fault_role") connections in faults_app, not 60"
	if [ -z "$skip" ]; then
		wait_until 40 fault_watches_up ||
		    problem "/readyz counts $ready_open of $ready_watches watches open after the restart"
		expect_ready "after the restart"
	fi
	[ -n "$skip" ] || note "watch_restarts_total $(pg_metric poolguard_inventory_watch_restarts_total)," \
	    "relists_total $relists -> $(pg_metric poolguard_inventory_relists_total)"
	end

	begin "r4. after the restart kubectl scale fa to 5 (120 of 100) is refused, fa to 4 (100 of 100) admitted"
	run k scale deployment/fa --replicas=5 -n "$fns"
	expect_refused
	expect_err "role 'faults_app' would use 120 of 100 connections"
	run k scale deployment/fa --replicas=4 -n "$fns"
	expect_ok
	expect_err "role 'faults_app' at 100 of 100 connections (100%)"
	expect_eq "fa replicas" "$(k get deployment/fa -n "$fns" -o 'jsonpath={.spec.replicas}' 2>&1)" 4
	[ -n "$skip" ] || wait_until 20 fault_role_is 100 ||
	    problem "poolguard counts $(pg_metric "$fault_role") connections in faults_app, not 100"
	end
}

# fault_watch_gone RV: a watch of the Deployments in $fns from RV answers 410 Gone.
fault_watch_gone() {
	watch_answer=$(curl -sS --max-time 3 --cacert "$tmp/pki/ca.crt" \
	    -H "Authorization: Bearer $admin_token" \
	    "https://127.0.0.1:$api_port/apis/apps/v1/namespaces/$fns/deployments?watch=1&resourceVersion=$1" 2>&1)
	has "$watch_answer" '"code":410' && has "$watch_answer" "too old resource version"
}

# fault_api2_ready: the second kube-apiserver's /readyz is ok.
fault_api2_ready() {
	kill -0 "$api2_pid" 2>/dev/null || return 0
	[ "$(curl -sS --max-time 2 --cacert "$tmp/pki/ca.crt" -H "Authorization: Bearer $admin_token" \
	    "https://127.0.0.1:$api2_port/readyz" 2>/dev/null)" = ok ]
}

# s. A watch resumed from a resourceVersion the API server no longer serves: 410 Gone, and the
#    relist must count what changed while poolguard was not watching. The mechanism, made certain
#    rather than left to timing: a control plane of two API servers on one etcd. Poolguard's
#    (on $api_port) stops; a second one on another port, which poolguard does not know, deletes fc
#    (-10; deletions are no admission requests) and scales fa 4 -> 3 (-20; a decrease poolguard
#    admits without remembering it); every write raises etcd's revision past any resourceVersion
#    poolguard holds. The restarted API server fills its watch cache with a LIST at etcd's
#    revision of then, and answers a watch from an older resourceVersion with an ERROR event,
#    410 "too old resource version" (k8s.io/apiserver, storage/cacher/watch_cache.go,
#    getAllEventsSinceLocked), so poolguard relists; a watch from the resourceVersion taken before
#    the stop shows that answer. Only the relist can tell poolguard of both changes: fb to 5 is
#    then 60 + 50 = 110 of 100, refused (120 with fc still counted, 130 with fa at 4), and fb to
#    4 is 100 of 100, admitted. Usage 100: fa 60, fb 40.
scenario_s() {
	local rv relists api1_pid

	begin "s1. poolguard's kube-apiserver stopped; a second one on the same etcd deletes fc and scales fa 4 -> 3"
	# The list's resourceVersion, a revision of etcd from before the changes below.
	run k get --raw "/apis/apps/v1/namespaces/$fns/deployments"
	expect_ok
	rv=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["metadata"]["resourceVersion"])' \
	    "$out" 2>/dev/null)
	[ -n "$skip" ] || [ -n "$rv" ] || problem "no resourceVersion in the list of Deployments"
	if [ -z "$skip" ]; then
		# The second one starts first, so that poolguard's is down only for the changes
		# (poolguard's watches back off up to 30 s while it is).
		api1_pid=$apiserver_pid
		read -r api2_port < <(free_ports 1)
		start_apiserver "$api2_port"
		api2_pid=$apiserver_pid
		apiserver_pid=$api1_pid
		extra_pids+=" $api2_pid"
		wait_until 90 fault_api2_ready
		if ! kill -0 "$api2_pid" 2>/dev/null || ! fault_api2_ready; then
			problem "the second kube-apiserver is not ready (see kube-apiserver-$api2_port.log)"
		fi
		relists=$(pg_metric poolguard_inventory_relists_total)
		stop_pid "$apiserver_pid"
		apiserver_pid=""
	fi
	run k --server="https://127.0.0.1:${api2_port:-0}" delete deployment fc -n "$fns"
	expect_ok
	run k --server="https://127.0.0.1:${api2_port:-0}" scale deployment/fa --replicas=3 -n "$fns"
	expect_ok
	expect_eq "faults_app connections poolguard counts, having seen neither change" \
	    "$(pg_metric "$fault_role")" 100
	end

	begin "s2. kube-apiserver restarted: a watch from before answers 410; poolguard relists and counts both changes (70 of 100)"
	if [ -z "$skip" ]; then
		fault_api_back || skip="kube-apiserver did not come back"
	fi
	if [ -z "$skip" ]; then
		wait_until 20 fault_watch_gone "$rv" ||
		    problem "a watch from resourceVersion $rv did not answer 410 Gone: $watch_answer"
		note "watch from $rv: $watch_answer"
		wait_until 40 fault_role_is 70 ||
		    problem "poolguard counts $(pg_metric "$fault_role") connections in faults_app, not 70"
		pg_metric_above poolguard_inventory_relists_total "$relists" ||
		    problem "poolguard_inventory_relists_total stayed $relists"
		note "relists_total $relists -> $(pg_metric poolguard_inventory_relists_total)"
	fi
	run k get deployment fc -n "$fns"
	expect_err NotFound
	expect_eq "fa replicas" "$(k get deployment/fa -n "$fns" -o 'jsonpath={.spec.replicas}' 2>&1)" 3
	if [ -n "${api2_pid:-}" ]; then
		stop_pid "$api2_pid"
		extra_pids=${extra_pids/ $api2_pid/}
		api2_pid=""
	fi
	end

	begin "s3. after the relist kubectl scale fb to 5 (110 of 100) is refused, fb to 4 (100 of 100) admitted"
	run k scale deployment/fb --replicas=5 -n "$fns"
	expect_refused
	expect_err "role 'faults_app' would use 110 of 100 connections"
	run k scale deployment/fb --replicas=4 -n "$fns"
	expect_ok
	expect_err "role 'faults_app' at 100 of 100 connections (100%)"
	# What the admission of an increase reads besides the inventory, for a failure's transcript.
	run k get lease poolguard-reservations -n poolguard-system \
	    -o 'jsonpath={.metadata.annotations.poolguard\.dev/reservations}'
	end
}

# fault_pause / fault_resume: SIGSTOP and SIGCONT of kube-apiserver. While it is stopped the
# kernel still accepts connections on its port, and nothing answers on them.
fault_pause() {
	kill -STOP "$apiserver_pid"
	api_paused=1
}
fault_resume() {
	[ -z "${api_paused:-}" ] || kill -CONT "$apiserver_pid"
	api_paused=""
}

# fault_reload_budget: waits for poolguard to load the changed $tmp/budget.yaml; reloads counts
# the successful reloads before the change.
fault_reload_budget() {
	wait_until 30 pg_metric_above 'poolguard_config_reloads_total{result="success"}' "$1" ||
	    problem "poolguard did not reload $tmp/budget.yaml (reloads_total{result=\"success\"} stayed $1)"
}

# t. A paused API server and the reservation Lease. Room first: fb to 1 (fa 60 + fb 10 = 70 of
#    100). With kube-apiserver stopped (SIGSTOP) for longer than --lease-timeout (2 s), an
#    increase that fits (fb 1 -> 2: 80 of 100) cannot be recorded in the Lease: refused within
#    the webhook's timeoutSeconds 5, never a hang; a decrease (fa 3 -> 2) is answered from memory
#    at once, even while such an increase waits on the Lease. Neither kubectl nor the API server
#    can call poolguard then, so these reviews are POSTed to it as the API server would.
#    Resumed, kubectl scale fb to 2 is admitted (80 of 100, the Lease written). Then, with
#    reservationUnavailable: allow reloaded and the API server paused again, fb 2 -> 3 (90 of
#    100) is admitted with a warning, as fast. The budget is put back. Usage 80: fa 60, fb 20
#    (and fb 30 held by poolguard for 30 s).
scenario_t() {
	local lease=poolguard-system/poolguard-reservations phrase deny allow calls waited written
	local reloads up_pid
	phrase="could not record the reservation in Lease $lease"

	begin "t1. kube-apiserver paused: an increase that fits is refused within 5 s (reservationUnavailable: deny); a decrease meanwhile is admitted at once"
	run k scale deployment/fb --replicas=1 -n "$fns"
	expect_ok
	# Up to 40 s: a reservation r or s left in the Lease may hold for its 30 s.
	[ -n "$skip" ] || wait_until 40 fault_role_is 70 ||
	    problem "poolguard counts $(pg_metric "$fault_role") connections in faults_app, not 70"
	if [ -z "$skip" ]; then
		deny=$(pg_metric 'poolguard_reservation_unavailable_total{answer="deny"}')
		calls=$(pg_metric poolguard_reservation_api_seconds_count)
		waited=$(pg_metric poolguard_reservation_api_seconds_sum)
		written=$(pg_metric 'poolguard_reservation_writes_total{result="written"}')
		fault_pause
		# The increase waits on the Lease; the decrease comes while it does.
		fault_review fb 1 2 >"$tmp/fault-up.json"
		fault_post "$tmp/fault-up" &
		up_pid=$!
		sleep 0.3
		fault_post_scale fa 3 2
		expect_eq "allowed (fa 3 -> 2, API server paused)" "$allowed" true
		expect_answer_within 1000
		kill -0 "$up_pid" 2>/dev/null ||
		    problem "the increase was answered before the decrease: nothing waited on the Lease"
		wait "$up_pid"
		fault_answer "$tmp/fault-up" "POST scale fb 1 -> 2"
		expect_eq "allowed (fb 1 -> 2, API server paused, deny)" "$allowed" false
		has "$message" "$phrase" || problem "the refusal does not say '$phrase': $message"
		expect_answer_within 5000
		pg_metric_above 'poolguard_reservation_unavailable_total{answer="deny"}' "${deny:-0}" ||
		    problem "poolguard_reservation_unavailable_total{answer=\"deny\"} stayed ${deny:-0}"
		# The GET of the Lease waited out the deadline; no write was tried.
		pg_metric_above poolguard_reservation_api_seconds_count "${calls:-0}" ||
		    problem "poolguard_reservation_api_seconds_count stayed ${calls:-0}"
		python3 -c 'import sys; sys.exit(float(sys.argv[2]) - float(sys.argv[1]) < 1.9)' \
		    "${waited:-0}" "$(pg_metric poolguard_reservation_api_seconds_sum)" ||
		    problem "poolguard_reservation_api_seconds_sum grew by less than the 2 s deadline"
		expect_eq 'poolguard_reservation_writes_total{result="written"}' \
		    "$(pg_metric 'poolguard_reservation_writes_total{result="written"}')" "$written"
		note "$(curl -s --cacert certs/out/ca.crt "https://127.0.0.1:$pg_port/metrics" |
		    grep '^poolguard_reservation_\(writes_total\|unavailable_total\|api_seconds_[sc]\)')"
		fault_resume
	fi
	end

	begin "t2. kube-apiserver resumed: kubectl scale fb to 2 is admitted (80 of 100) and recorded in the Lease"
	written=$(pg_metric 'poolguard_reservation_writes_total{result="written"}')
	run k scale deployment/fb --replicas=2 -n "$fns"
	expect_ok
	expect_err "role 'faults_app' at 80 of 100 connections (80%)"
	[ -n "$skip" ] ||
	    pg_metric_above 'poolguard_reservation_writes_total{result="written"}' "${written:-0}" ||
	    problem "poolguard_reservation_writes_total{result=\"written\"} stayed ${written:-0}"
	run k get lease poolguard-reservations -n poolguard-system \
	    -o 'jsonpath={.metadata.annotations.poolguard\.dev/reservations}'
	expect_ok
	# An entry for faults/fb, 20 connections, written just now: it ends in about 30 s.
	[ -n "$skip" ] || python3 -c '
import json, sys, time
now = time.time()
sys.exit(not any(e[1:5] == [sys.argv[2], "fb", "faults_app", 20] and now + 20 < e[5] <= now + 31
                 for e in json.loads(sys.argv[1])["entries"]))' "$out" "$fns" ||
	    problem "the Lease holds no fresh entry for $fns/fb with 20 connections"
	end

	begin "t3. with reservationUnavailable: allow reloaded and kube-apiserver paused, an increase that fits is admitted with a warning within 5 s"
	if [ -z "$skip" ]; then
		reloads=$(pg_metric 'poolguard_config_reloads_total{result="success"}')
		echo "reservationUnavailable: allow" >>"$tmp/budget.yaml"
		fault_reload_budget "$reloads"
		allow=$(pg_metric 'poolguard_reservation_unavailable_total{answer="allow"}')
		fault_pause
	fi
	fault_post_scale fb 2 3
	expect_eq "allowed (fb 2 -> 3, API server paused, allow)" "$allowed" true
	[ -n "$skip" ] || has "$warnings" "$phrase" ||
	    problem "no warning says '$phrase': $warnings"
	[ -n "$skip" ] || has "$warnings" "role 'faults_app' at 90 of 100 connections (90%)" ||
	    problem "no warning says the role is at 90 of 100: $warnings"
	expect_answer_within 5000
	[ -n "$skip" ] ||
	    pg_metric_above 'poolguard_reservation_unavailable_total{answer="allow"}' "${allow:-0}" ||
	    problem "poolguard_reservation_unavailable_total{answer=\"allow\"} stayed ${allow:-0}"
	fault_resume
	if [ -z "$skip" ]; then
		reloads=$(pg_metric 'poolguard_config_reloads_total{result="success"}')
		write_budget
		fault_reload_budget "$reloads"
	fi
	end
}
