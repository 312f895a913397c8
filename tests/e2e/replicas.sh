# Sourced by tests/e2e/run.sh: poolguard as two replicas behind a load balancer.
# shellcheck shell=bash
# What run.sh defines (tmp, the ports, skip, problems ...) and what it reads (replica_scenarios,
# race_pids, extra_pids) look unassigned or unused here; `shellcheck -x tests/e2e/run.sh` sees both.
# shellcheck disable=SC2034,SC2154
#
# Scenarios o, p and q stop the single poolguard, start replica A on $pg_port and replica B on
# $pg2_port, both with --lease (E2E_LEASE) and --reservation-seconds $rep_seconds, and haproxy
# on $lb_port in TCP mode (TLS passes through), round robin, health checks of /readyz every
# 200 ms, retries with redispatch. The ValidatingWebhookConfiguration names the balancer. All
# of it happens in namespace replicas, role replicas_app (100 connections), so the synergyflow
# numbers of the other scenarios are untouched:
#
#   alpha, beta   3 x pool 10 each: 60 of 100, 40 free
#   w1a .. w5b    0 x pool 1: the subjects of AdmissionReviews sent to the replicas directly.
#                 Those are never stored, so an admitted one holds its reservation for
#                 $rep_seconds s; each round uses a pair of its own, sized to fit the room the
#                 rounds before left (k = free / 2 + 1: one fits, two do not).
#   probe         0 x pool 1: dry runs of it measure the room each replica sees (a dry run
#                 reserves nothing), so waits for reservations to expire are polls.
#
# q kills replica B and, at its end, puts back what the scenarios after it expect: the single
# poolguard on $pg_port (with --lease), the webhook at it, namespace replicas empty.
#
# Environment:
#   E2E_REPLICA_ROUNDS=N  rounds of the kubectl races of o and p (default 20)
#   E2E_LEASE=NS/NAME     the replicas' --lease (default poolguard-system/poolguard-reservations);
#                         E2E_LEASE=none keeps each replica's reservations to itself, as before
#                         the Lease: then the races let both requests through and o, p, q fail.

replica_scenarios="o p q"
rns=replicas
rep_seconds=6
rep_lease=${E2E_LEASE:-poolguard-system/poolguard-reservations}
rep_shared=1            # the replicas share their reservations through a Lease
[ "$rep_lease" != none ] || rep_shared=0
rep_pool_var=SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE
rep_b_pid=""
lb_pid=""
rep_down=""             # when set: why the replica scenarios cannot go on
rep_saved_skip=""

# rep_begin NAME / rep_end: begin and end for the replica scenarios, which are reported as not run
# once their bring-up failed (rep_down), without stopping the scenarios after them.
rep_begin() {
	rep_saved_skip=$skip
	[ -z "$rep_down" ] || skip=${skip:-$rep_down}
	begin "$1"
}

rep_end() {
	local st=0
	end || st=1
	skip=$rep_saved_skip
	return $st
}

# rk ARG...: kubectl in namespace replicas; rjp RESOURCE JSONPATH: a field of an object there.
rk() {
	k "$@" -n "$rns"
}

rjp() {
	k get "$1" -n "$rns" -o "jsonpath=$2" 2>&1
}

# The serve arguments of a replica named $1 (after pg_start's own, which they override).
rep_args() {
	rep_argv=(--reservation-seconds "$rep_seconds" --lease "$rep_lease" --replica-id "$1")
}

# rep_metric PORT NAME: the value of the sample NAME (labels included) on that replica's /metrics,
# 0 when absent.
rep_metric() {
	curl -s --max-time 5 --cacert certs/out/ca.crt "https://127.0.0.1:$1/metrics" |
	    awk -v n="$2" '$1 == n { v = $2 } END { print v + 0 }'
}

# ---------------------------------------------------------------------------------------------
# The load balancer.
# ---------------------------------------------------------------------------------------------

# haproxy in TCP mode: the replicas' TLS passes through, so the API server still checks
# poolguard's serving certificate and presents its client certificate to poolguard. One log line
# per connection, when it reaches a replica (logasap), naming the replica and the retries (a
# "+" before them: redispatched). The runtime API on haproxy.sock closes connections on demand.
lb_write_config() {
	cat >"$tmp/haproxy.cfg" <<EOF
global
	log stderr format raw local0 info
	maxconn 200
	stats socket $tmp/haproxy.sock mode 600 level admin

defaults
	mode tcp
	log global
	option logasap
	log-format "lb-connection %ci:%cp -> %b/%s retries %rc"
	timeout connect 1s
	timeout client 60s
	timeout server 60s
	retries 3
	option redispatch 1

frontend webhook
	bind 127.0.0.1:$lb_port
	default_backend replicas

backend replicas
	balance roundrobin
	option httpchk GET /readyz
	http-check expect status 200
	default-server check check-ssl ca-file $root/certs/out/ca.crt inter 200ms fall 2 rise 2
	server replica-a 127.0.0.1:$pg_port
	server replica-b 127.0.0.1:$pg2_port
EOF
}

lb_ready() {
	kill -0 "$lb_pid" 2>/dev/null || return 0
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert certs/out/ca.crt \
	    "https://127.0.0.1:$lb_port/readyz")" = 200 ]
}

lb_start() {
	lb_write_config
	echo "# e2e: haproxy -db -f $tmp/haproxy.cfg" >>"$tmp/logs/haproxy.log"
	haproxy -db -f "$tmp/haproxy.cfg" >>"$tmp/logs/haproxy.log" 2>&1 &
	lb_pid=$!
	extra_pids+=" $lb_pid"
	wait_until 10 lb_ready
	kill -0 "$lb_pid" 2>/dev/null || problem "haproxy exited: $(tail -n 5 "$tmp/logs/haproxy.log")"
	lb_ready || problem "https://127.0.0.1:$lb_port/readyz does not answer 200 through haproxy"
}

# lb_cmd COMMAND: a command of haproxy's runtime API; prints its answer.
lb_cmd() {
	python3 - "$tmp/haproxy.sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
sys.stdout.write(out.decode())
PY
}

# The API server keeps its connections to the balancer open and sends request after request on
# the same one, to the same replica. Closing them between rounds (nothing is in flight then) makes
# it connect again, so the rounds spread over both replicas, and two requests of one round that
# find no open connection open one each: one to each replica.
lb_drop_connections() {
	lb_cmd "shutdown sessions server replicas/replica-a" >/dev/null &&
	    lb_cmd "shutdown sessions server replicas/replica-b" >/dev/null
}

lb_connections() {
	grep -c '^lb-connection' "$tmp/logs/haproxy.log"
}

# webhook_at PORT: the ValidatingWebhookConfiguration of run.sh, calling https://127.0.0.1:PORT.
webhook_at() {
	write_webhook_config
	sed -i "s|url: https://127.0.0.1:$pg_port/validate|url: https://127.0.0.1:$1/validate|" \
	    "$tmp/webhook.yaml"
	run k apply -f "$tmp/webhook.yaml"
	expect_ok
}

# The API server calls the balancer: poolguard refuses the probe and haproxy has seen a connection
# since there were $lb_seen.
webhook_via_lb() {
	webhook_active && [ "$(lb_connections)" -gt "$lb_seen" ]
}

# ---------------------------------------------------------------------------------------------
# AdmissionReviews sent to one replica directly, as the API server sends them.
# ---------------------------------------------------------------------------------------------

# review_build KIND OBJECT_FILE VALUE DRYRUN OUT: an AdmissionReview UPDATE whose oldObject is the
# stored object in OBJECT_FILE (from the API server) and whose object is that with spec.replicas
# (KIND scale: an autoscaling/v1 Scale of a Deployment) or spec.maxReplicas (KIND hpa: an
# autoscaling/v2 HorizontalPodAutoscaler) set to VALUE.
review_build() {
	python3 - "$@" <<'PY'
import copy, json, sys, uuid
kind, path, value, dry, out = sys.argv[1:6]
old = json.load(open(path))
new = copy.deepcopy(old)
meta = old["metadata"]
if kind == "scale":
    new["spec"]["replicas"] = int(value)
    gvk = {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    gvr = {"group": "apps", "version": "v1", "resource": "deployments"}
    sub, manager = "scale", "kubectl-scale"
else:
    new["spec"]["maxReplicas"] = int(value)
    new["metadata"]["generation"] = meta.get("generation", 1) + 1
    gvk = {"group": "autoscaling", "version": "v2", "kind": "HorizontalPodAutoscaler"}
    gvr = {"group": "autoscaling", "version": "v2", "resource": "horizontalpodautoscalers"}
    sub, manager = None, "kubectl-patch"
req = {"uid": str(uuid.uuid4()), "kind": gvk, "resource": gvr}
if sub:
    req["subResource"] = sub
req.update({"requestKind": gvk, "requestResource": gvr})
if sub:
    req["requestSubResource"] = sub
req.update({
    "name": meta["name"], "namespace": meta["namespace"], "operation": "UPDATE",
    "userInfo": {"username": "e2e-direct", "uid": "e2e-direct",
                 "groups": ["system:masters", "system:authenticated"]},
    "object": new, "oldObject": old, "dryRun": dry == "true",
    "options": {"kind": "UpdateOptions", "apiVersion": "meta.k8s.io/v1",
                "fieldManager": manager}})
json.dump({"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": req},
          open(out, "w"))
PY
}

# review_answer FILE: "allowed" or "denied", a tab and the message, or "bad" and the body.
review_answer() {
	python3 - "$1" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))["response"]
    print(("allowed" if r["allowed"] is True else "denied") + "\t" +
          (r.get("status") or {}).get("message", "") + " " + " ".join(r.get("warnings") or []))
except Exception as e:
    print("bad\t%s: %s" % (e, open(sys.argv[1]).read()[:300]))
PY
}

# The stored objects the API server would put in oldObject.
scale_of() {
	k get --raw "/apis/apps/v1/namespaces/$rns/deployments/$1/scale"
}

hpa_of() {
	k get --raw "/apis/autoscaling/v2/namespaces/$rns/horizontalpodautoscalers/$1"
}

rep_curl_opts=(-sS --max-time 10 --cacert certs/out/ca.crt --cert certs/out/apiserver-client.crt
    --key certs/out/apiserver-client.key -H 'Content-Type: application/json')

# review_post PORT BODY OUT: POSTs one AdmissionReview to a replica.
review_post() {
	curl "${rep_curl_opts[@]}" --data-binary "@$2" -o "$3" "https://127.0.0.1:$1/validate"
}

# review_race PORT1 BODY1 OUT1 PORT2 BODY2 OUT2: both at once (curl --parallel, whose progress
# meter -s does not silence: stderr goes to review-race.err).
review_race() {
	curl --parallel --parallel-immediate "${rep_curl_opts[@]}" --data-binary "@$2" -o "$3" \
	    "https://127.0.0.1:$1/validate" --next "${rep_curl_opts[@]}" --data-binary "@$5" \
	    -o "$6" "https://127.0.0.1:$4/validate" 2>"$tmp/review-race.err"
}

# room_is PORT FREE: that replica admits a dry run of probe 0 -> FREE (pool 1) and refuses
# 0 -> FREE+1: it counts role replicas_app at 100 - FREE, reservations included.
room_is() {
	local a b
	review_build scale "$tmp/probe-scale.json" "$2" true "$tmp/probe-fits.json" &&
	    review_build scale "$tmp/probe-scale.json" $(($2 + 1)) true "$tmp/probe-over.json" &&
	    review_post "$1" "$tmp/probe-fits.json" "$tmp/probe-fits.out" &&
	    review_post "$1" "$tmp/probe-over.json" "$tmp/probe-over.out" || return 1
	a=$(review_answer "$tmp/probe-fits.out")
	b=$(review_answer "$tmp/probe-over.out")
	room_note="$1: probe 0->$2: $a; 0->$(($2 + 1)): $b"
	has "$a" allowed && has "$b" denied
}

# rooms_are FREE: both replicas see FREE connections free in role replicas_app.
rooms_are() {
	room_is "$pg_port" "$1" && room_is "$pg2_port" "$1"
}

# lease_quiet: no reservation of the replicas in namespace replicas is left in the Lease (a dry
# run does not read the Lease, so rooms_are alone would miss one that no replica has read yet).
lease_quiet() {
	[ "$rep_shared" = 1 ] || return 0
	lease_entries | python3 -c '
import json, sys, time
text = sys.stdin.read()
d = json.loads(text) if text.strip() else {"entries": []}
sys.exit(1 if any(e[1] == sys.argv[1] and e[6] in ("replica-a", "replica-b") and
                  e[5] > time.time() for e in d.get("entries", [])) else 0)' "$rns"
}

# settled FREE: the reservations of earlier rounds have ended, in the Lease and in both replicas,
# and both see FREE connections free.
settled() {
	lease_quiet && rooms_are "$1"
}

# review_rounds KIND FREE FIRST LAST: rounds FIRST..LAST of two AdmissionReviews at once, w<r>a
# to one replica and w<r>b to the other (swapped every round), each raising its workload by
# k = free / 2 + 1 connections: it fits alone, not both. Exactly one must be allowed, and the
# other denied for the budget. Counts rounds that admitted both in rep_both.
review_rounds() {
	local what=$1 free=$2 r ka kb pa pb aa ab base=0 v
	rep_both=0 rep_none=0
	for ((r = $3; r <= $4; r++)); do
		ka=$((free / 2 + 1))
		kb=$ka
		if [ "$what" = scale ]; then
			if ! { scale_of "w${r}a" >"$tmp/old-a.json" &&
			    scale_of "w${r}b" >"$tmp/old-b.json"; }; then
				problem "round $r: cannot read the Scale of w${r}a or w${r}b"
				continue
			fi
		else
			# An HPA at maxReplicas 1 counts its workload (0 replicas) as 1.
			base=1
			if ! { hpa_of "w${r}a" >"$tmp/old-a.json" && hpa_of "w${r}b" >"$tmp/old-b.json"; }; then
				problem "round $r: cannot read the HPA of w${r}a or w${r}b"
				continue
			fi
		fi
		review_build "$what" "$tmp/old-a.json" $((base + ka)) false "$tmp/review-a.json"
		review_build "$what" "$tmp/old-b.json" $((base + kb)) false "$tmp/review-b.json"
		pa=$pg_port pb=$pg2_port
		[ $((r % 2)) -eq 1 ] || { pa=$pg2_port pb=$pg_port; }
		rm -f "$tmp/review-a.out" "$tmp/review-b.out"
		review_race "$pa" "$tmp/review-a.json" "$tmp/review-a.out" \
		    "$pb" "$tmp/review-b.json" "$tmp/review-b.out" ||
		    problem "round $r: curl failed (exit $?): $(tr '\r' '\n' <"$tmp/review-race.err" | grep curl)"
		aa=$(review_answer "$tmp/review-a.out")
		ab=$(review_answer "$tmp/review-b.out")
		note "round $r ($free free): w${r}a +$ka to :$pa: $aa"
		note "round $r ($free free): w${r}b +$kb to :$pb: $ab"
		case "${aa%%$'\t'*} ${ab%%$'\t'*}" in
		"allowed allowed")
			rep_both=$((rep_both + 1))
			problem "round $r: both allowed: $((100 - free + ka + kb)) of 100"
			;;
		"allowed denied") v=$ab ;;
		"denied allowed") v=$aa ;;
		"denied denied")
			rep_none=$((rep_none + 1))
			problem "round $r: both denied, though either fits alone"
			;;
		*) problem "round $r: not exactly one allowed: '${aa%%$'\t'*}' and '${ab%%$'\t'*}'" ;;
		esac
		if [ -n "${v:-}" ] && ! has "$v" "role 'replicas_app' would use"; then
			problem "round $r: the loser was not denied for the budget: $v"
		fi
		v=""
		free=$((free - ka))
	done
}

# ---------------------------------------------------------------------------------------------
# kubectl races through the balancer.
# ---------------------------------------------------------------------------------------------

# rep_racer GOFILE TAG COMMAND...: waits for GOFILE, then runs COMMAND; its output goes to
# rep-race-TAG.out and rep-race-TAG.err.
rep_racer() {
	local go=$1 tag=$2
	shift 2
	while [ ! -e "$go" ]; do
		sleep 0.01
	done
	"$@" >"$tmp/rep-race-$tag.out" 2>"$tmp/rep-race-$tag.err"
}

# raise WHAT NAME VALUE / rep_value WHAT NAME: WHAT scale sets (reads) deployment NAME's replicas,
# WHAT hpa HPA NAME's maxReplicas.
raise() {
	if [ "$1" = scale ]; then
		rk scale "deployment/$2" --replicas="$3"
	else
		rk patch "hpa/$2" --type=merge -p "{\"spec\":{\"maxReplicas\":$3}}"
	fi
}

rep_value() {
	if [ "$1" = scale ]; then
		rjp "deployment/$2" '{.spec.replicas}'
	else
		rjp "hpa/$2" '{.spec.maxReplicas}'
	fi
}

# race_rounds WHAT ROUNDS: rounds of alpha 3 -> 6 and beta 3 -> 6 at the same moment (+30 each,
# 40 free): exactly one may succeed, the other must be denied by poolguard for the budget. The
# winner goes back to 3 after each round (a decrease). Counts rounds that let both through in
# rep_both.
race_rounds() {
	local what=$1 r go=$tmp/rep-race.go rc_a rc_b pa pb a b loser
	rep_both=0 rep_none=0
	for ((r = 1; r <= $2; r++)); do
		rm -f "$go"
		rep_racer "$go" alpha raise "$what" alpha 6 &
		pa=$!
		rep_racer "$go" beta raise "$what" beta 6 &
		pb=$!
		race_pids="$pa $pb"
		sleep 0.2
		touch "$go"
		wait "$pa"
		rc_a=$?
		wait "$pb"
		rc_b=$?
		race_pids=""
		note "round $r: alpha 3->6: exit $rc_a: $(cat "$tmp/rep-race-alpha.out" "$tmp/rep-race-alpha.err")"
		note "round $r: beta 3->6: exit $rc_b: $(cat "$tmp/rep-race-beta.out" "$tmp/rep-race-beta.err")"
		a=$(rep_value "$what" alpha)
		b=$(rep_value "$what" beta)
		note "round $r: stored alpha $a, beta $b"
		if [ "$rc_a" -eq 0 ] && [ "$rc_b" -eq 0 ]; then
			rep_both=$((rep_both + 1))
			problem "round $r: both succeeded: 120 of 100"
		elif [ "$rc_a" -ne 0 ] && [ "$rc_b" -ne 0 ]; then
			rep_none=$((rep_none + 1))
			problem "round $r: both were refused, though either fits alone"
		else
			loser=alpha
			[ "$rc_a" -ne 0 ] || loser=beta
			if ! grep -q "admission webhook \"$webhook_name\" denied the request" \
			    "$tmp/rep-race-$loser.err" || ! grep -q "role 'replicas_app' would use" \
			    "$tmp/rep-race-$loser.err"; then
				problem "round $r: $loser failed, but not by poolguard's denial for the budget"
			fi
			if [ "$rc_a" -eq 0 ]; then
				expect_eq "round $r: stored alpha,beta" "$a,$b" "6,3"
			else
				expect_eq "round $r: stored alpha,beta" "$a,$b" "3,6"
			fi
		fi
		if [ "$rep_shared" = 1 ] && [ "$rc_a" -eq "$rc_b" ]; then
			note "round $r: Lease: $(lease_entries)"
		fi
		[ "$a" = 3 ] || { run raise "$what" alpha 3 && expect_ok; }
		[ "$b" = 3 ] || { run raise "$what" beta 3 && expect_ok; }
		lb_drop_connections || problem "round $r: haproxy's runtime API failed"
	done
}

# judged LOG PATTERN: decisions in logs/LOG.log on the kubectl user's requests in namespace
# replicas whose line also has PATTERN.
judged() {
	grep '"user":"e2e-admin"' "$tmp/logs/$1.log" | grep "\"namespace\":\"$rns\"" | grep -c "$2"
}

# ---------------------------------------------------------------------------------------------
# The scenarios.
# ---------------------------------------------------------------------------------------------

# The workloads, created while the single poolguard still judges (60 of 100 admitted).
rep_workloads() {
	local x name replicas pool
	{
		cat <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: $rns}
EOF
		for x in alpha:3:10 beta:3:10 probe:0:1 w1a:0:1 w1b:0:1 w2a:0:1 w2b:0:1 w3a:0:1 \
		    w3b:0:1 w4a:0:1 w4b:0:1 w5a:0:1 w5b:0:1; do
			IFS=: read -r name replicas pool <<<"$x"
			cat <<EOF
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: $name, namespace: $rns}
spec:
  replicas: $replicas
  selector: {matchLabels: {app: $name}}
  template:
    metadata: {labels: {app: $name}}
    spec:
      containers:
        - name: app
          image: nginx
          env: [{name: $rep_pool_var, value: "$pool"}]
EOF
		done
	} >"$tmp/replicas.yaml"
}

# o. Two replicas behind haproxy. kubectl scale races through the balancer, then AdmissionReviews
#    posted to each replica directly, one each at the same moment.
scenario_o() {
	local rounds=${E2E_REPLICA_ROUNDS:-20} na nb t

	rep_begin "o1. two replicas (--lease $rep_lease, --reservation-seconds $rep_seconds) behind haproxy; the webhook calls the balancer"
	[ -n "$skip" ] || command -v haproxy >/dev/null ||
	    problem "haproxy is not installed ('make deps' as root installs it)"
	rep_workloads
	run k apply -f "$tmp/replicas.yaml"
	expect_ok
	if [ -z "$skip" ]; then
		t=$(now_ms)
		stop_pid "$pg_pid"
		pg_pid=""
		rep_args replica-a
		pg_start "$pg_port" replica-a "${rep_argv[@]}"
		rep_args replica-b
		pg_start "$pg2_port" replica-b "${rep_argv[@]}"
		rep_b_pid=$pg_started
		extra_pids+=" $rep_b_pid"
		pg_wait_ready "$pg_pid" "$pg_port" || problem "replica A: $pg_ready_note"
		pg_wait_ready "$rep_b_pid" "$pg2_port" || problem "replica B: $pg_ready_note"
	fi
	[ -n "$skip" ] || [ ${#problems[@]} -ne 0 ] || lb_start
	if [ -z "$skip" ] && [ ${#problems[@]} -eq 0 ]; then
		lb_seen=$(lb_connections)
		webhook_at "$lb_port"
		wait_until 30 webhook_via_lb ||
		    problem "the API server does not call poolguard through the balancer after 30 s"
		note "probe: $webhook_probe_answer"
		scale_of probe >"$tmp/probe-scale.json" || problem "cannot read the Scale of probe"
		wait_until 10 rooms_are 40 || problem "the replicas do not both see 40 free: $room_note"
	fi
	rep_end || rep_down=${rep_down:-"the replicas or the balancer did not come up"}
	[ -n "$skip$rep_down" ] || echo "# replicas and balancer ready in $(since "$t")"

	rep_begin "o2. kubectl scale alpha 3->6 and beta 3->6 at once (+30 each, 40 free) through the balancer: one wins ($rounds rounds)"
	[ -n "$skip" ] || race_rounds scale "$rounds"
	[ -n "$skip" ] || echo "# o2: both admitted in $rep_both, both refused in $rep_none of $rounds rounds"
	rep_end

	rep_begin "o3. both replicas judged kubectl's scale requests (their decision logs)"
	if [ -z "$skip" ]; then
		na=$(judged replica-a '"subResource":"scale"')
		nb=$(judged replica-b '"subResource":"scale"')
		note "replica A judged $na, replica B $nb"
		echo "# o3: kubectl's scale requests judged by replica A: $na, replica B: $nb"
		[ "$na" -gt 0 ] || problem "replica A judged none of kubectl's scale requests"
		[ "$nb" -gt 0 ] || problem "replica B judged none of kubectl's scale requests"
	fi
	rep_end

	rep_begin "o4. Scale AdmissionReviews posted at once, one to each replica, each fits alone: one allowed (5 rounds)"
	if [ -z "$skip" ]; then
		# The winner of the last race holds its reservation for a while.
		wait_until $((rep_seconds + 10)) settled 40 ||
		    problem "the replicas do not both see 40 free: $room_note"
		review_rounds scale 40 1 5
		echo "# o4: both allowed in $rep_both, both denied in $rep_none of 5 rounds"
	fi
	rep_end
}

# p. The same with HPA raises (countHpaMaxReplicas: an HPA counts its workload at maxReplicas).
scenario_p() {
	local rounds=${E2E_REPLICA_ROUNDS:-20} na nb r

	rep_begin "p1. HPAs for alpha and beta at maxReplicas 3 (60 of 100) are admitted"
	if [ -z "$skip" ]; then
		# The reviews of o4 hold their reservations for $rep_seconds s.
		wait_until $((rep_seconds + 10)) settled 40 ||
		    problem "the replicas do not both see 40 free: $room_note"
	fi
	for r in alpha beta; do
		cat >"$tmp/hpa-$r.yaml" <<EOF
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: $r, namespace: $rns}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: $r}
  minReplicas: 1
  maxReplicas: 3
EOF
		run k create -f "$tmp/hpa-$r.yaml"
		expect_ok
	done
	rep_end || rep_down=${rep_down:-"the HPAs of p were not created"}

	rep_begin "p2. kubectl patch of both HPAs' maxReplicas 3->6 at once (+30 each, 40 free): one wins ($rounds rounds)"
	[ -n "$skip" ] || race_rounds hpa "$rounds"
	[ -n "$skip" ] || echo "# p2: both admitted in $rep_both, both refused in $rep_none of $rounds rounds"
	rep_end

	rep_begin "p3. both replicas judged kubectl's HPA updates (their decision logs)"
	if [ -z "$skip" ]; then
		na=$(judged replica-a '"resource":"horizontalpodautoscalers"')
		nb=$(judged replica-b '"resource":"horizontalpodautoscalers"')
		note "replica A judged $na, replica B $nb"
		echo "# p3: kubectl's HPA updates judged by replica A: $na, replica B: $nb"
		[ "$na" -gt 0 ] || problem "replica A judged none of kubectl's HPA updates"
		[ "$nb" -gt 0 ] || problem "replica B judged none of kubectl's HPA updates"
	fi
	rep_end

	# 8 HPAs at maxReplicas 1 count w1a..w4b as 1 each: 68 of 100, 32 free.
	rep_begin "p4. HPA AdmissionReviews raising maxReplicas, at once, one to each replica, each fits alone: one allowed (4 rounds)"
	if [ -z "$skip" ]; then
		# The winner of the last race holds its reservation for a while.
		wait_until $((rep_seconds + 10)) settled 40 ||
		    problem "the replicas do not both see 40 free: $room_note"
		rk delete hpa alpha beta >/dev/null 2>&1 || problem "cannot delete the HPAs of alpha, beta"
		for r in w1a w1b w2a w2b w3a w3b w4a w4b; do
			cat <<EOF
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: $r, namespace: $rns}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: $r}
  minReplicas: 1
  maxReplicas: 1
EOF
		done >"$tmp/hpa-w.yaml"
	fi
	run k create -f "$tmp/hpa-w.yaml"
	expect_ok
	if [ -z "$skip" ]; then
		wait_until $((rep_seconds + 10)) rooms_are 32 ||
		    problem "the replicas do not both see 32 free: $room_note"
		review_rounds hpa 32 1 4
		echo "# p4: both allowed in $rep_both, both denied in $rep_none of 4 rounds"
		rk delete hpa --all >/dev/null 2>&1 || problem "cannot delete the HPAs of p"
	fi
	rep_end
}

# lease_entries: the reservations annotation of the Lease, or nothing.
lease_entries() {
	k get lease "${rep_lease#*/}" -n "${rep_lease%%/*}" \
	    -o 'jsonpath={.metadata.annotations.poolguard\.dev/reservations}' 2>/dev/null
}

# has_lease_entry NAME REPLICA: the Lease holds an entry for workload NAME of namespace replicas,
# written by REPLICA.
has_lease_entry() {
	lease_entries | python3 -c '
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if any(e[1] == sys.argv[1] and e[2] == sys.argv[2] and e[6] == sys.argv[3]
                  for e in d.get("entries", [])) else 1)' "$rns" "$1" "$2" 2>/dev/null
}

# port_free PORT: nothing holds 127.0.0.1:PORT (a bind with SO_REUSEADDR, as a listener does,
# succeeds).
port_free() {
	python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}

# pg_back: the single poolguard again on $pg_port. The port was free for a moment once replica A
# stopped, and $pg_port lies in the kernel's ephemeral range, so a connection made meanwhile
# (poolguard's own LISTs start before it listens) can hold it: then wait for it and start again,
# up to 3 times.
pg_back() {
	local attempt
	for attempt in 1 2 3; do
		pg_start
		pg_wait_ready && return 0
		tail -n 5 "$tmp/logs/poolguard.log" | grep -q "unable to listen on '127.0.0.1:$pg_port'" ||
		    break
		note "attempt $attempt: 127.0.0.1:$pg_port is in use: $(ss -tanp 2>/dev/null |
		    grep ":$pg_port " | head -n 3)"
		wait_until 30 port_free "$pg_port"
	done
	problem "$pg_ready_note"
	return 1
}

# beta_scaled: kubectl scale beta 3 -> 6 through the balancer is admitted (a refusal, poolguard's
# denial, is kept in beta_refusal).
beta_scaled() {
	local e
	e=$(rk scale deployment/beta --replicas=6 2>&1 >/dev/null) && return 0
	beta_refusal=$e
	has "$e" "admission webhook \"$webhook_name\" denied the request" ||
	    beta_failures=$((beta_failures + 1))
	beta_tries=$((beta_tries + 1))
	return 1
}

# q. Replica B admits alpha 3 -> 5 (+20, a review sent to it directly and never stored), then is
#    killed. The survivor A, through the balancer, must still count B's reservation: beta 3 -> 6
#    (+30) is 110 of 100 with it, refused; once it expired (--reservation-seconds) 90 of 100,
#    admitted. Then back to one poolguard.
scenario_q() {
	local t_admit ans expired0 expired1 lb0 elapsed p rest=""

	rep_begin "q1. replica B admits a scale-up of alpha 3->5 (+20, 80 of 100) posted to it directly, never stored; B is killed (SIGKILL)"
	if [ -z "$skip" ]; then
		wait_until $((rep_seconds + 10)) settled 40 ||
		    problem "the replicas do not both see 40 free: $room_note"
		scale_of alpha >"$tmp/alpha-scale.json" || problem "cannot read the Scale of alpha"
		review_build scale "$tmp/alpha-scale.json" 5 false "$tmp/alpha-5.json"
		review_post "$pg2_port" "$tmp/alpha-5.json" "$tmp/alpha-5.out" ||
		    problem "curl to replica B failed"
		t_admit=$(now_ms)
		ans=$(review_answer "$tmp/alpha-5.out")
		note "replica B: alpha 3->5: $ans"
		has "$ans" allowed || problem "replica B did not allow alpha 3->5: $ans"
		if [ "$rep_shared" = 1 ]; then
			has_lease_entry alpha replica-b ||
			    problem "the Lease holds no entry of replica-b for alpha: $(lease_entries)"
			note "Lease: $(lease_entries)"
		fi
		expired0=$(rep_metric "$pg_port" poolguard_reservation_expired_total)
		lb0=$(lb_connections)
		kill -KILL "$rep_b_pid"
		wait "$rep_b_pid" 2>/dev/null
		note "replica B killed: wait status $?"
		kill -0 "$rep_b_pid" 2>/dev/null && problem "replica B still runs after SIGKILL"
		# The next request connects anew: haproxy may send it to B first (not yet seen down),
		# then retries and redispatches it to A.
		lb_drop_connections || problem "haproxy's runtime API failed"
	fi
	rep_end || rep_down=${rep_down:-"the reservation of replica B was not made"}

	rep_begin "q2. through the balancer, replica A refuses kubectl scale beta 3->6 (+30: 110 of 100 with B's reservation)"
	run rk scale deployment/beta --replicas=6
	expect_refused
	expect_err "role 'replicas_app' would use 110 of 100 connections"
	expect_eq "beta replicas" "$(rjp deployment/beta '{.spec.replicas}')" 3
	if [ -z "$skip" ]; then
		elapsed=$(($(now_ms) - t_admit))
		note "judged $elapsed ms after B's admission; haproxy: $(tail -n +$((lb0 + 1)) \
		    "$tmp/logs/haproxy.log" | grep -E 'lb-connection|replica-b' | head -n 5)"
		[ "$elapsed" -lt $(((rep_seconds - 1) * 1000)) ] ||
		    problem "too slow to tell: judged $elapsed ms after B's admission, the reservation lasts $rep_seconds s"
	fi
	rep_end

	rep_begin "q3. once B's reservation expired ($rep_seconds s), kubectl scale beta 3->6 (90 of 100) is admitted; A pruned it"
	if [ -z "$skip" ]; then
		beta_tries=0 beta_failures=0 beta_refusal=""
		wait_until $((rep_seconds + 10)) beta_scaled ||
		    problem "beta 3->6 still refused $rep_seconds s after: $beta_refusal"
		elapsed=$(($(now_ms) - t_admit))
		note "admitted $elapsed ms after B's admission, after $beta_tries refusals: $beta_refusal"
		[ "$beta_failures" -eq 0 ] ||
		    problem "$beta_failures of the tries failed other than by poolguard's denial: $beta_refusal"
		[ "$elapsed" -ge $(((rep_seconds - 1) * 1000)) ] ||
		    problem "admitted $elapsed ms after B's admission, before its reservation ($rep_seconds s) expired"
		expect_eq "beta replicas" "$(rjp deployment/beta '{.spec.replicas}')" 6
		expired1=$(rep_metric "$pg_port" poolguard_reservation_expired_total)
		note "replica A poolguard_reservation_expired_total: $expired0 -> $expired1"
		[ "$expired1" -gt "$expired0" ] ||
		    problem "replica A's poolguard_reservation_expired_total did not grow ($expired0 -> $expired1)"
		if [ "$rep_shared" = 1 ] && has_lease_entry alpha replica-b; then
			problem "the Lease still holds replica-b's entry for alpha: $(lease_entries)"
		fi
	fi
	rep_end

	# Back to what the scenarios after these expect: namespace replicas empty, one poolguard on
	# $pg_port with --lease, the webhook at it (haproxy stopped first, so the probe passes only
	# once the API server calls $pg_port).
	begin "q4. back to one poolguard on 127.0.0.1:$pg_port (pg_start: --lease poolguard-system/poolguard-reservations), the webhook at it"
	if [ -z "$skip" ]; then
		[ -z "$rep_down" ] || note "the replica scenarios stopped early: $rep_down"
		run rk delete deployment --all
		expect_ok
		stop_pid "$lb_pid"
		stop_pid "$rep_b_pid"
		stop_pid "$pg_pid"
		pg_pid=""
		for p in $extra_pids; do
			[ "$p" = "$lb_pid" ] || [ "$p" = "$rep_b_pid" ] || rest+=" $p"
		done
		extra_pids=$rest
		lb_pid="" rep_b_pid=""
		pg_back
	fi
	if [ -z "$skip" ] && [ ${#problems[@]} -eq 0 ]; then
		webhook_at "$pg_port"
		wait_until 30 webhook_active ||
		    problem "the API server does not call poolguard on $pg_port after 30 s"
		note "probe: $webhook_probe_answer"
	fi
	end || skip=${skip:-"poolguard did not come back after the replica scenarios"}
}
