#!/usr/bin/env bash
# End-to-end tests: poolguard as the validating admission webhook of a real kube-apiserver (with
# a real etcd), driven by a real kubectl.
#
#   bash tests/e2e/run.sh          (from the repository root; `make e2e` builds first, then runs it)
#
# Brings up etcd and kube-apiserver on free ports of 127.0.0.1, applies manifests/rbac.yaml,
# starts build/poolguard with a kubeconfig of its service account and --client-ca, as the
# shipped Deployment does, registers it as a ValidatingWebhookConfiguration, with the API server
# presenting the client certificate of certs/make-certs.sh through its
# --admission-control-config-file, checks the install manifests (manifests/, server-side dry runs
# only) and plays the scenarios below. Every step prints "ok - NAME" or
# "not ok - NAME" with what went wrong; the last line is "N passed, N failed" and the exit status
# is 0 only when nothing failed.
#
# All state (etcd data, certificates and keys, tokens, kubeconfigs, kubectl's cache, logs) lives
# in one mktemp -d directory, removed at exit with every process this script started.
#
# Environment:
#   E2E_KEEP=1         keep the state directory and print its path
#   E2E_VERBOSE=1      print the kubectl transcript of passing steps too
#   E2E_INVENTORY=FILE serve with --inventory FILE instead of --kubeconfig: checks the cluster
#                      and webhook wiring alone; scenarios that need live state fail this way.
#   E2E_RACE_ROUNDS=N  rounds of the concurrent scale-up race in scenario h (default 10)
#   POOLGUARD=PATH     the binary under test (default build/poolguard)

# Functions are called indirectly (trap, scenario_$s), which shellcheck takes for dead code.
# shellcheck disable=SC2317
set -u

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 2
root=$PWD
poolguard_bin=${POOLGUARD:-build/poolguard}
ns=synergyflow
pool_var=SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE
# JSONPath of the first container's pool variable: its value, or the ConfigMap it refers to.
pool_env="{.spec.template.spec.containers[0].env[?(@.name==\"$pool_var\")]"
pool_value="$pool_env.value}"
pool_ref="$pool_env.valueFrom.configMapKeyRef.name}"
webhook_name=budget.poolguard.dev

passed=0
failed=0
completed=0
skip=""                 # when set: why the remaining steps cannot run
tmp=""
etcd_pid=""
apiserver_pid=""
pg_pid=""
race_pids=""            # the two racers of scenario h, while they run
extra_pids=""            # processes replicas.sh and faults.sh started, stopped at exit

# ---------------------------------------------------------------------------------------------
# Test points: begin NAME, run commands, expect_*, end.
# ---------------------------------------------------------------------------------------------

point=""
problems=()
transcript=""

# Starts a test point; in skip mode its commands do nothing and it reports "not run".
begin() {
	point=$1
	problems=()
	transcript=""
}

# Records a failed expectation of the current test point.
problem() {
	problems+=("$*")
}

has() {
	case $1 in *"$2"*) return 0 ;; esac
	return 1
}

# Runs a command, keeping its exit status in rc and its output in out and err.
run() {
	last_cmd="$*"
	last_cmd=${last_cmd/#k /kubectl }
	if [ -n "$skip" ]; then
		rc=97 out="" err=""
		return 0
	fi
	"$@" >"$tmp/run.out" 2>"$tmp/run.err"
	rc=$?
	out=$(<"$tmp/run.out")
	err=$(<"$tmp/run.err")
	transcript+="\$ $last_cmd"$'\n'"exit $rc"$'\n'
	[ -z "$out" ] || transcript+="stdout: $out"$'\n'
	[ -z "$err" ] || transcript+="stderr: $err"$'\n'
}

# Adds a note (a query's answer, a log line) to the transcript shown on failure.
note() {
	transcript+="$*"$'\n'
}

expect_ok() {
	[ -n "$skip" ] || [ "$rc" -eq 0 ] || problem "expected '$last_cmd' to succeed; it exited $rc"
}

# A refusal by poolguard itself, not by a webhook call that failed.
expect_refused() {
	[ -n "$skip" ] && return 0
	if [ "$rc" -eq 0 ]; then
		problem "expected '$last_cmd' to be refused; it succeeded"
	elif ! has "$err" "admission webhook \"$webhook_name\" denied the request"; then
		problem "expected '$last_cmd' to be refused by admission webhook \"$webhook_name\""
	fi
}

expect_err() {
	[ -n "$skip" ] || has "$err" "$1" || problem "expected the stderr of '$last_cmd' to contain: $1"
}

expect_no_err() {
	[ -n "$skip" ] || ! has "$err" "$1" ||
	    problem "expected the stderr of '$last_cmd' not to contain: $1"
}

# expect_eq WHAT ACTUAL EXPECTED
expect_eq() {
	[ -n "$skip" ] || [ "$2" = "$3" ] || problem "$1: expected '$3', got '$2'"
}

# Ends the test point: prints and counts it. Returns 1 when it did not pass.
end() {
	local p
	if [ -n "$skip" ]; then
		failed=$((failed + 1))
		echo "not ok - $point # not run: $skip"
		return 1
	fi
	if [ ${#problems[@]} -eq 0 ]; then
		passed=$((passed + 1))
		echo "ok - $point"
		[ "${E2E_VERBOSE:-0}" != 1 ] || printf '%s' "$transcript" | sed 's/^/    /'
		return 0
	fi
	failed=$((failed + 1))
	echo "not ok - $point"
	for p in "${problems[@]}"; do
		echo "    # $p"
	done
	printf '%s' "$transcript" | sed 's/^/    /'
	return 1
}

# Milliseconds since the epoch, and seconds elapsed since such a mark.
now_ms() {
	local t=${EPOCHREALTIME/[.,]/}
	echo $((t / 1000))
}
since() {
	local ms=$(($(now_ms) - $1))
	printf '%d.%01ds' $((ms / 1000)) $((ms % 1000 / 100))
}

# wait_until SECONDS COMMAND...: polls COMMAND every 0.2 s; fails after SECONDS.
wait_until() {
	local deadline=$(($(now_ms) + $1 * 1000))
	shift
	until "$@"; do
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		sleep 0.2
	done
}

# ---------------------------------------------------------------------------------------------
# Processes and cleanup.
# ---------------------------------------------------------------------------------------------

# stop_pid PID: SIGTERM, up to 10 s to exit, then SIGKILL. Sets stop_status to its exit status.
stop_pid() {
	local pid=$1 i
	stop_status=""
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	stop_status=$?
}

# At exit, however reached: stop what was started, show logs on failure, clean up, summarize.
finish() {
	local status=$? log
	trap - EXIT INT TERM
	if [ "$completed" != 1 ]; then
		failed=$((failed + 1))
		echo "not ok - the harness stopped before the end (exit status $status)"
	fi
	# shellcheck disable=SC2086  # a list of pids
	[ -z "$race_pids" ] || kill $race_pids 2>/dev/null
	# Processes the sourced scenario files started (a second replica, the load balancer).
	for p in $extra_pids; do
		stop_pid "$p"
	done
	stop_pid "$pg_pid"
	stop_pid "$apiserver_pid"
	stop_pid "$etcd_pid"
	if [ -n "$tmp" ] && [ -d "$tmp" ]; then
		if [ "$failed" -ne 0 ]; then
			for log in "$tmp"/logs/*.log; do
				[ -f "$log" ] || continue
				echo "# ---- last 50 lines of ${log##*/} ----"
				tail -n 50 "$log" | sed 's/^/# /'
			done
		fi
		if [ "${E2E_KEEP:-0}" = 1 ]; then
			echo "# state kept in $tmp"
		else
			rm -rf "$tmp"
		fi
	fi
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ] && exit 0
	exit 1
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Prints N distinct free TCP ports of 127.0.0.1 (held open together, so they differ).
free_ports() {
	python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# kubectl as the cluster admin; k_pg as poolguard's service account. Nothing touches $HOME.
k() {
	[ -z "$skip" ] || return 97
	HOME="$tmp/home" "$KUBECTL" --kubeconfig="$tmp/admin.kubeconfig" \
	    --cache-dir="$tmp/kube-cache" --request-timeout=30s "$@"
}
k_pg() {
	[ -z "$skip" ] || return 97
	HOME="$tmp/home" "$KUBECTL" --kubeconfig="$tmp/poolguard.kubeconfig" \
	    --cache-dir="$tmp/kube-cache-pg" --request-timeout=30s "$@"
}

# jp RESOURCE JSONPATH: a field of a stored object in the test namespace (or the error).
jp() {
	k get "$1" -n "$ns" -o "jsonpath=$2" 2>&1
}

# ---------------------------------------------------------------------------------------------
# Bring-up.
# ---------------------------------------------------------------------------------------------

# Writes the apiserver's CA, serving certificate (SAN IP:127.0.0.1), service-account key pair
# and static tokens into $tmp/pki.
make_pki() {
	local d=$tmp/pki
	mkdir -p "$d" && (
		umask 077
		cd "$d" || exit 1
		openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		    -keyout ca.key -out ca.crt -days 2 -subj "/CN=poolguard-e2e apiserver CA" \
		    -addext "basicConstraints=critical,CA:TRUE" \
		    -addext "keyUsage=critical,keyCertSign,cRLSign" &&
		openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		    -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver" &&
		printf '%s\n' "basicConstraints=critical,CA:FALSE" \
		    "keyUsage=critical,digitalSignature,keyEncipherment" \
		    "extendedKeyUsage=serverAuth" \
		    "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc" >apiserver.ext &&
		openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -days 2 \
		    -set_serial "0x$(openssl rand -hex 8)" -extfile apiserver.ext -out apiserver.crt &&
		openssl genrsa -out sa.key 2048 &&
		openssl rsa -in sa.key -pubout -out sa.pub
	) >"$d/openssl.log" 2>&1 || return 1
	admin_token=$(openssl rand -hex 24)
	pg_token=$(openssl rand -hex 24)
	# token,user,uid,"groups": the admin is a system:master; poolguard's user is named as its
	# service account, so the ClusterRoleBinding of manifests/rbac.yaml applies to it.
	{
		echo "$admin_token,e2e-admin,e2e-admin,\"system:masters\""
		printf '%s,%s,%s,"%s"\n' "$pg_token" system:serviceaccount:poolguard-system:poolguard \
		    e2e-poolguard "system:serviceaccounts,system:serviceaccounts:poolguard-system"
	} >"$d/tokens.csv"
}

# Writes the two kubeconfigs: the admin's names the CA file, poolguard's embeds it.
write_kubeconfigs() {
	cat >"$tmp/admin.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: e2e
    cluster:
      server: https://127.0.0.1:$api_port
      certificate-authority: $tmp/pki/ca.crt
users:
  - name: e2e-admin
    user:
      token: $admin_token
contexts:
  - name: e2e
    context: {cluster: e2e, user: e2e-admin}
current-context: e2e
EOF
	cat >"$tmp/poolguard.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: e2e
    cluster:
      server: https://127.0.0.1:$api_port
      certificate-authority-data: $(base64 -w0 "$tmp/pki/ca.crt")
users:
  - name: poolguard
    user:
      token: $pg_token
contexts:
  - name: e2e
    context: {cluster: e2e, user: poolguard}
current-context: e2e
EOF
	chmod 600 "$tmp/admin.kubeconfig" "$tmp/poolguard.kubeconfig"
}

start_etcd() {
	"$ETCD" --name e2e --data-dir "$tmp/etcd" \
	    --listen-client-urls "http://127.0.0.1:$etcd_port" \
	    --advertise-client-urls "http://127.0.0.1:$etcd_port" \
	    --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" \
	    --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
	    --initial-cluster "e2e=http://127.0.0.1:$etcd_peer_port" \
	    --unsafe-no-fsync >"$tmp/logs/etcd.log" 2>&1 &
	etcd_pid=$!
}

etcd_healthy() {
	kill -0 "$etcd_pid" 2>/dev/null || return 0    # dead: stop waiting, the caller checks
	curl -fsS --max-time 2 "http://127.0.0.1:$etcd_port/health" 2>/dev/null | grep -q '"health":"true"'
}

# The apiserver stores Deployments and friends; no controller manager, so nothing reconciles them.
# --endpoint-reconciler-type=none: the default reconciler publishes the advertise address as the
# endpoints of the `kubernetes` Service, and a loopback address is refused there ("may not be in
# the loopback range"), an error logged again and again.
# The API server's admission configuration: for the ValidatingAdmissionWebhook plugin, a
# kubeconfig whose user, named after the webhook's host and port (the URL's, 127.0.0.1:PORT; a
# webhook registered by Service is poolguard.poolguard-system.svc), holds the client certificate
# certs/make-certs.sh issued, as in the apiserver/ files of manifests/local/make-overlay.sh.
write_admission_config() {
	cat >"$tmp/admission-configuration.yaml" <<EOF
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
  - name: ValidatingAdmissionWebhook
    configuration:
      apiVersion: apiserver.config.k8s.io/v1
      kind: WebhookAdmissionConfiguration
      kubeConfigFile: $tmp/poolguard-webhook.kubeconfig
EOF
	(
		umask 077
		cat >"$tmp/poolguard-webhook.kubeconfig" <<EOF
apiVersion: v1
kind: Config
users:
EOF
		# poolguard, its second replica and the load balancer in front of both (replicas.sh).
		for port in "$pg_port" "$pg2_port" "$lb_port"; do
			cat >>"$tmp/poolguard-webhook.kubeconfig" <<EOF
  - name: 127.0.0.1:$port
    user:
      client-certificate-data: $(base64 -w0 certs/out/apiserver-client.crt)
      client-key-data: $(base64 -w0 certs/out/apiserver-client.key)
EOF
		done
	)
}

# start_apiserver [PORT]: on PORT, $api_port by default; its pid in apiserver_pid. faults.sh
# restarts it, and starts a second one on another port (a control plane of two on one etcd).
# Each port has its own log (logs/kube-apiserver.log for $api_port, else
# logs/kube-apiserver-PORT.log), appended to after a "# e2e:" line.
# --shutdown-watch-termination-grace-period: on SIGTERM, watches (poolguard's) are drained and
# closed within 2 s; without it, an open watch keeps the API server from exiting (stop_pid kills it
# after 10 s).
start_apiserver() {
	local port=${1:-$api_port} log=$tmp/logs/kube-apiserver.log
	[ "$port" = "$api_port" ] || log=$tmp/logs/kube-apiserver-$port.log
	mkdir -p "$tmp/apiserver"
	write_admission_config
	echo "# e2e: $KUBE_APISERVER --secure-port=$port" >>"$log"
	"$KUBE_APISERVER" \
	    --etcd-servers="http://127.0.0.1:$etcd_port" \
	    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$port" \
	    --tls-cert-file="$tmp/pki/apiserver.crt" --tls-private-key-file="$tmp/pki/apiserver.key" \
	    --cert-dir="$tmp/apiserver" \
	    --authorization-mode=RBAC \
	    --token-auth-file="$tmp/pki/tokens.csv" \
	    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
	    --service-account-key-file="$tmp/pki/sa.pub" \
	    --service-account-signing-key-file="$tmp/pki/sa.key" \
	    --service-cluster-ip-range=10.96.0.0/24 \
	    --endpoint-reconciler-type=none \
	    --admission-control-config-file="$tmp/admission-configuration.yaml" \
	    --profiling=false \
	    --shutdown-watch-termination-grace-period=2s \
	    >>"$log" 2>&1 &
	apiserver_pid=$!
}

apiserver_ready() {
	kill -0 "$apiserver_pid" 2>/dev/null || return 0
	[ "$(curl -sS --max-time 2 --cacert "$tmp/pki/ca.crt" -H "Authorization: Bearer $admin_token" \
	    "https://127.0.0.1:$api_port/readyz" 2>/dev/null)" = ok ]
}

# The budget under test: role synergyflow_app may hold 200 connections; the cluster 1000, of which
# 3 are reserved, so the role's limit is always the one that binds. Warnings from 80%. A
# Deployment with an HPA counts the HPA's maxReplicas. Workloads labelled tier: batch belong to
# synergyflow_batch instead (none is, until scenario k tries to move one there). Role replicas_app
# (namespace replicas) is the one of replicas.sh's scenarios, faults_app (namespace faults) that
# of faults.sh.
write_budget() {
	cat >"$tmp/budget.yaml" <<'EOF'
cluster:
  name: e2e-postgres
  maxConnections: 1000
  reservedConnections: 3
warnPercent: 80
enforcement: deny
defaultPoolSize: 10
countHpaMaxReplicas: true
roles:
  - name: synergyflow_batch
    connectionLimit: 500
    namespaces: [synergyflow]
    selector: {matchLabels: {tier: batch}}
  - name: synergyflow_app
    connectionLimit: 200
    namespaces: [synergyflow]
  - name: replicas_app
    connectionLimit: 100
    namespaces: [replicas]
  - name: faults_app
    connectionLimit: 100
    namespaces: [faults]
EOF
}

# pg_start [PORT [LOG [ARG...]]]: starts poolguard in the background on 127.0.0.1:PORT (default
# $pg_port), its log appended to logs/LOG.log (default poolguard), with the extra serve ARGs last
# (so that they override: --lease none). Sets pg_started to its pid, and pg_pid too when PORT
# is $pg_port.
# shellcheck disable=SC2120  # replicas.sh passes arguments
pg_start() {
	local port=${1:-$pg_port} log=${2:-poolguard}
	shift $(($# < 2 ? $# : 2))
	local args=(serve --config "$tmp/budget.yaml"
	    --tls-cert certs/out/serving.crt --tls-key certs/out/serving.key
	    --client-ca certs/out/ca.crt
	    --listen "127.0.0.1:$port")
	if [ -n "${E2E_INVENTORY:-}" ]; then
		args+=(--inventory "$E2E_INVENTORY")
	else
		args+=(--kubeconfig "$tmp/poolguard.kubeconfig"
		    --lease poolguard-system/poolguard-reservations)
	fi
	args+=("$@")
	echo "# e2e: $poolguard_bin ${args[*]}" >>"$tmp/logs/$log.log"
	"$poolguard_bin" "${args[@]}" >>"$tmp/logs/$log.log" 2>&1 &
	pg_started=$!
	[ "$port" != "$pg_port" ] || pg_pid=$pg_started
}

# pg_wait_ready [PID PORT]: waits up to 30 s for GET /readyz of the poolguard PID (default
# $pg_pid) on PORT (default $pg_port) to answer 200. Sets pg_ready_note to what it saw.
# shellcheck disable=SC2120  # replicas.sh passes arguments
pg_wait_ready() {
	local pid=${1:-$pg_pid} port=${2:-$pg_port}
	local deadline=$(($(now_ms) + 30000)) code not_ready=0
	pg_ready_note=""
	while :; do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid" 2>/dev/null
			pg_ready_note="poolguard exited with status $? before it was ready"
			[ "$pid" != "$pg_pid" ] || pg_pid=""
			return 1
		fi
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert certs/out/ca.crt \
		    "https://127.0.0.1:$port/readyz")
		if [ "$code" = 200 ]; then
			pg_ready_note="readyz answered 200 after $not_ready not-ready answers"
			return 0
		fi
		case $code in 000) ;; *) not_ready=$((not_ready + 1)) ;; esac
		if [ "$(now_ms)" -ge "$deadline" ]; then
			pg_ready_note="readyz still answers $code after 30 s"
			return 1
		fi
		sleep 0.1
	done
}

write_webhook_config() {
	cat >"$tmp/webhook.yaml" <<EOF
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: poolguard
webhooks:
  - name: $webhook_name
    clientConfig:
      url: https://127.0.0.1:$pg_port/validate
      caBundle: $(base64 -w0 certs/out/ca.crt)
    rules:
      - apiGroups: ["apps"]
        apiVersions: ["v1"]
        resources: ["deployments", "deployments/scale", "statefulsets", "statefulsets/scale"]
        operations: ["CREATE", "UPDATE"]
        scope: Namespaced
      - apiGroups: ["autoscaling"]
        apiVersions: ["v2", "v1"]
        resources: ["horizontalpodautoscalers"]
        operations: ["CREATE", "UPDATE"]
        scope: Namespaced
      - apiGroups: [""]          # pool sizes read from ConfigMaps: a raise is judged
        apiVersions: ["v1"]
        resources: ["configmaps"]
        operations: ["CREATE", "UPDATE", "DELETE"]
        scope: Namespaced
    sideEffects: NoneOnDryRun
    admissionReviewVersions: ["v1"]
    failurePolicy: Fail
    matchPolicy: Equivalent
    timeoutSeconds: 5
    namespaceSelector:
      matchExpressions:
        - key: kubernetes.io/metadata.name
          operator: NotIn
          values: ["kube-system", "poolguard-system"]
EOF
}

# The apiserver picks up webhook configurations from an informer, a moment after they are
# stored. Until then this dry run (10000 connections) is admitted; afterwards poolguard refuses it.
webhook_active() {
	local e
	e=$(k create deployment e2e-probe --image=nginx --replicas=1000 -n "$ns" --dry-run=server \
	    -o name 2>&1 >/dev/null)
	webhook_probe_answer=$e
	has "$e" "admission webhook \"$webhook_name\" denied the request"
}

bring_up() {
	local t0 t

	begin "tools: kubectl, kube-apiserver and etcd from tests/e2e/tools/build.sh; $poolguard_bin"
	t=$(now_ms)
	# build.sh prints NAME=PATH lines on stdout, its progress on stderr: show that as it comes,
	# since a first build takes long.
	{ tests/e2e/tools/build.sh 2>&1 >"$tmp/tools.env" | sed -u 's/^/# /'; }
	rc=${PIPESTATUS[0]}
	if [ "$rc" -eq 0 ]; then
		eval "$(<"$tmp/tools.env")"
	else
		problem "tests/e2e/tools/build.sh failed with status $rc"
	fi
	for b in "${KUBECTL:-}" "${KUBE_APISERVER:-}" "${ETCD:-}" "$poolguard_bin"; do
		[ -x "$b" ] || problem "'$b' is not an executable (run make, or tests/e2e/tools/build.sh)"
	done
	# make-certs.sh keeps what exists and adds what is missing (the API server's client
	# certificate, in a certs/out from before it issued one).
	{ [ -s certs/out/ca.crt ] && [ -s certs/out/serving.key ] &&
	    [ -s certs/out/apiserver-client.key ]; } ||
	    sh certs/make-certs.sh certs/out >/dev/null 2>&1 ||
	    problem "cannot make certs/out (sh certs/make-certs.sh certs/out)"
	command -v python3 >/dev/null || problem "python3 is needed to pick free ports"
	end || skip=${skip:-"the tools are missing"}
	if [ -z "$skip" ]; then
		echo "# tools ready in $(since "$t"): kubectl $("$KUBECTL" version --client -o json |
		    sed -n 's/.*"gitVersion": "\(.*\)".*/\1/p' | head -n1)," \
		    "kube-apiserver $("$KUBE_APISERVER" --version | cut -d' ' -f2)," \
		    "etcd $("$ETCD" --version | sed -n 's/^etcd Version: //p')"
	fi

	t0=$(now_ms)
	read -r etcd_port etcd_peer_port api_port pg_port pg2_port lb_port < <(free_ports 6)

	begin "etcd serves on 127.0.0.1:${etcd_port:-?}"
	if [ -z "$skip" ]; then
		t=$(now_ms)
		start_etcd
		wait_until 30 etcd_healthy
		kill -0 "$etcd_pid" 2>/dev/null || problem "etcd exited (see etcd.log)"
		etcd_healthy || problem "etcd is not healthy after 30 s"
	fi
	end || skip=${skip:-"etcd did not start"}
	[ -n "$skip" ] || echo "# etcd healthy in $(since "$t")"

	begin "kube-apiserver is ready on 127.0.0.1:${api_port:-?}"
	if [ -z "$skip" ]; then
		t=$(now_ms)
		make_pki || problem "openssl failed: $(tail -n 5 "$tmp/pki/openssl.log")"
		start_apiserver
		wait_until 90 apiserver_ready
		kill -0 "$apiserver_pid" 2>/dev/null || problem "kube-apiserver exited (see kube-apiserver.log)"
		apiserver_ready || problem "/readyz is not ok after 90 s"
		write_kubeconfigs
	fi
	end || skip=${skip:-"kube-apiserver did not start"}
	[ -n "$skip" ] || echo "# kube-apiserver ready in $(since "$t")"

	begin "namespaces poolguard-system and $ns, manifests/rbac.yaml applied"
	run k apply -f - <<'EOF'
apiVersion: v1
kind: Namespace
metadata:
  name: poolguard-system
EOF
	expect_ok
	run k apply -f manifests/rbac.yaml
	expect_ok
	run k apply -f - <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: $ns
EOF
	expect_ok
	end || skip=${skip:-"the cluster setup failed"}

	# poolguard's kubeconfig (CA embedded) authenticates as its service account and gets exactly
	# manifests/rbac.yaml: list and watch workloads, autoscalers and ConfigMaps; no Secrets.
	begin "poolguard's kubeconfig is its service account's, with the rights of rbac.yaml"
	run k_pg auth whoami -o 'jsonpath={.status.userInfo.username}'
	expect_ok
	expect_eq "username" "$out" "system:serviceaccount:poolguard-system:poolguard"
	if [ -z "$skip" ]; then
		# The RBAC authorizer learns of the new binding through an informer: give it a moment.
		wait_until 10 k_pg auth can-i list deployments.apps -A >/dev/null 2>&1
	fi
	local check verb res want where
	for check in list:deployments.apps:yes watch:deployments.apps:yes \
	    list:statefulsets.apps:yes watch:horizontalpodautoscalers.autoscaling:yes \
	    list:configmaps:yes watch:configmaps:yes list:secrets:no update:deployments.apps:no; do
		IFS=: read -r verb res want <<<"$check"
		run k_pg auth can-i "$verb" "$res" --all-namespaces
		expect_eq "can-i $verb $res" "$out" "$want"
	done
	# The reservation Lease: in poolguard-system only, and only that one for get and update.
	for check in poolguard-system:create:leases.coordination.k8s.io:yes \
	    poolguard-system:update:leases.coordination.k8s.io/poolguard-reservations:yes \
	    poolguard-system:update:leases.coordination.k8s.io/other:no \
	    poolguard-system:get:secrets:no "$ns":create:leases.coordination.k8s.io:no; do
		IFS=: read -r where verb res want <<<"$check"
		run k_pg auth can-i "$verb" "$res" -n "$where"
		expect_eq "can-i $verb $res -n $where" "$out" "$want"
	done
	end

	begin "poolguard serves on 127.0.0.1:${pg_port:-?} and /readyz answers 200"
	if [ -z "$skip" ]; then
		t=$(now_ms)
		write_budget
		pg_start
		pg_wait_ready || problem "$pg_ready_note"
	fi
	end || skip=${skip:-"poolguard is not ready"}
	[ -n "$skip" ] || echo "# poolguard ready in $(since "$t") ($pg_ready_note)"

	begin "the ValidatingWebhookConfiguration is registered and the apiserver calls poolguard"
	if [ -z "$skip" ]; then
		t=$(now_ms)
		write_webhook_config
		run k apply -f "$tmp/webhook.yaml"
		expect_ok
		webhook_probe_answer=""
		wait_until 30 webhook_active ||
		    problem "a dry run of 1000 x 10 connections is still not refused by poolguard after 30 s"
		note "probe: $webhook_probe_answer"
	fi
	end || skip=${skip:-"the webhook is not active"}
	[ -n "$skip" ] || echo "# webhook active in $(since "$t"); bring-up took $(since "$t0")"

	# The probe above was judged, so the API server presented its client certificate: a call
	# that poolguard answers 403 fails ("failed calling webhook"), it is not a denial.
	local url="https://127.0.0.1:${pg_port:-0}/validate"
	local review='{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"e2e-mtls","operation":"CREATE"}}'
	begin "POST /validate needs the API server's client certificate: none, or poolguard's serving certificate (no clientAuth), gets 403"
	run curl -sS -o /dev/null -w '%{http_code}' --max-time 5 --cacert certs/out/ca.crt \
	    -H 'Content-Type: application/json' --data-binary "$review" "$url"
	expect_eq "status without a client certificate" "$out" 403
	run curl -sS -o /dev/null -w '%{http_code}' --max-time 5 --cacert certs/out/ca.crt \
	    --cert certs/out/serving.crt --key certs/out/serving.key \
	    -H 'Content-Type: application/json' --data-binary "$review" "$url"
	expect_eq "status with the serving certificate" "$out" 403
	run curl -sS -w '\n%{http_code}' --max-time 5 --cacert certs/out/ca.crt \
	    --cert certs/out/apiserver-client.crt --key certs/out/apiserver-client.key \
	    -H 'Content-Type: application/json' --data-binary "$review" "$url"
	expect_eq "status with the API server's client certificate" "${out##*$'\n'}" 200
	[ -n "$skip" ] || has "$out" '"uid":"e2e-mtls"' || problem "no AdmissionReview answer: $out"
	end
}

# ---------------------------------------------------------------------------------------------
# The install manifests. The base (kubectl apply -k manifests) and the overlay that
# manifests/local/make-overlay.sh writes from certs/out render, and the API server accepts every
# object of both in a server-side dry run. Nothing is stored: namespace poolguard-system and the
# objects of rbac.yaml exist already, the ValidatingWebhookConfiguration poolguard keeps calling
# the poolguard under test, and no Deployment poolguard appears, so the scenarios' numbers are
# untouched. make-overlay.sh runs on a copy of manifests/ in $tmp, so the working tree is left
# alone. The cert-manager overlay is only rendered: cert-manager's CRDs are not installed here.
# ---------------------------------------------------------------------------------------------

check_manifests() {
	local copy=$tmp/manifests want kinds
	local base_kinds="ClusterRole ClusterRoleBinding ConfigMap Deployment Namespace"
	base_kinds+=" PodDisruptionBudget Role RoleBinding Service ServiceAccount"
	base_kinds+=" ValidatingWebhookConfiguration"

	begin "manifests: kubectl kustomize manifests renders and kubectl apply --dry-run=server -k manifests passes"
	run k kustomize manifests
	expect_ok
	kinds=$(sed -n 's/^kind: //p' <<<"$out" | sort | xargs)
	expect_eq "kinds rendered from manifests" "$kinds" "$base_kinds"
	run k apply --dry-run=server -k manifests
	expect_ok
	for want in namespace/poolguard-system serviceaccount/poolguard configmap/poolguard-budget \
	    service/poolguard deployment.apps/poolguard poddisruptionbudget.policy/poolguard \
	    clusterrole.rbac.authorization.k8s.io/poolguard \
	    clusterrolebinding.rbac.authorization.k8s.io/poolguard \
	    role.rbac.authorization.k8s.io/poolguard-reservations \
	    rolebinding.rbac.authorization.k8s.io/poolguard-reservations \
	    validatingwebhookconfiguration.admissionregistration.k8s.io/poolguard; do
		[ -n "$skip" ] || has "$out" "$want" || problem "the dry run did not list $want"
	done

	# The local overlay: the Secret poolguard-tls and the caBundle of certs/out/ca.crt.
	if [ -z "$skip" ] &&
	    ! { rm -rf "$copy" && cp -R manifests "$copy" && rm -rf "$copy/local/generated"; }; then
		problem "cannot copy manifests/ to $copy"
	fi
	run sh "$copy/local/make-overlay.sh" certs/out
	expect_ok
	run k kustomize "$copy/local/generated"
	expect_ok
	[ -n "$skip" ] || has "$out" "caBundle: $(base64 -w0 certs/out/ca.crt)" ||
	    problem "the local overlay does not set caBundle to certs/out/ca.crt"
	run k apply --dry-run=server -k "$copy/local/generated"
	expect_ok
	[ -n "$skip" ] || has "$out" "secret/poolguard-tls" || problem "the dry run did not list secret/poolguard-tls"

	# The API server's side of the local overlay: the admission configuration and the kubeconfig
	# it names, with the client certificate under the Service's name.
	run k config view --kubeconfig "$copy/local/generated/apiserver/poolguard-webhook.kubeconfig" \
	    -o 'jsonpath={.users[0].name}'
	expect_ok
	expect_eq "the user of generated/apiserver/poolguard-webhook.kubeconfig" "$out" \
	    poolguard.poolguard-system.svc
	[ -n "$skip" ] || grep -q 'kind: WebhookAdmissionConfiguration' \
	    "$copy/local/generated/apiserver/admission-configuration.yaml" ||
	    problem "generated/apiserver/admission-configuration.yaml names no WebhookAdmissionConfiguration"
	run k kustomize manifests
	[ -n "$skip" ] || has "$out" "- /etc/poolguard/tls/ca.crt" ||
	    problem "the base Deployment does not run poolguard with --client-ca /etc/poolguard/tls/ca.crt"

	run k kustomize manifests/overlays/cert-manager
	expect_ok
	for want in "kind: Certificate" "kind: Issuer" "secretName: poolguard-tls" \
	    "secretName: poolguard-apiserver-client" \
	    "cert-manager.io/inject-ca-from: poolguard-system/poolguard"; do
		[ -n "$skip" ] || has "$out" "$want" || problem "the cert-manager overlay lacks '$want'"
	done

	# Nothing was stored.
	expect_eq "the webhook's clientConfig.url after the dry runs" \
	    "$(k get validatingwebhookconfiguration poolguard \
	        -o 'jsonpath={.webhooks[0].clientConfig.url}' 2>&1)" \
	    "https://127.0.0.1:$pg_port/validate"
	run k get deployment poolguard -n poolguard-system
	[ -n "$skip" ] || [ "$rc" -ne 0 ] || problem "deployment poolguard was stored by a dry run"
	expect_err "NotFound"
	end
}

# ---------------------------------------------------------------------------------------------
# Scenarios. Role synergyflow_app: limit 200, warning from 160 (80%). A Deployment holds
# replicas x pool connections; no pool variable means the default pool, 10. The running total
# (role usage) is kept in the comments; the cluster (1000, 3 reserved) never binds first.
# ---------------------------------------------------------------------------------------------

# a. Within budget: api 3 x 10 = 30; then pool 20: 3 x 20 = 60; worker 2 x 10 = 20.
#    Role usage 80 (40%): no warnings.
scenario_a() {
	begin "a. within-budget Deployments are admitted (api 3 x 20, worker 2 x 10: 80 of 200)"
	run k create deployment api --image=nginx --replicas=3 -n "$ns"
	expect_ok
	expect_no_err "Warning:"
	run k set env deployment/api "$pool_var=20" -n "$ns"
	expect_ok
	expect_no_err "Warning:"
	run k create deployment worker --image=nginx --replicas=2 -n "$ns"
	expect_ok
	expect_no_err "Warning:"
	expect_eq "api replicas" "$(jp deployment/api '{.spec.replicas}')" 3
	expect_eq "api pool" "$(jp deployment/api "$pool_value")" 20
	expect_eq "worker replicas" "$(jp deployment/worker '{.spec.replicas}')" 2
	end
}

# b. api to 11: 11 x 20 = 220, plus worker 20 = 240 > 200: refused, api stays at 3. Usage 80.
scenario_b() {
	begin "b. kubectl scale api to 11 (240 of 200) is refused and nothing changes"
	run k scale deployment/api --replicas=11 -n "$ns"
	expect_refused
	expect_err "admission webhook"
	expect_err "would use 240 of 200 connections"
	expect_eq "api replicas" "$(jp deployment/api '{.spec.replicas}')" 3
	end
}

# c. api to 8: 8 x 20 = 160, plus 20 = 180 of 200 (90% >= 80%): admitted with a warning.
#    Usage 180.
scenario_c() {
	begin "c. kubectl scale api to 8 (180 of 200) is admitted with a warning"
	run k scale deployment/api --replicas=8 -n "$ns"
	expect_ok
	expect_err "Warning:"
	expect_err "role 'synergyflow_app' at 180 of 200 connections (90%)"
	expect_eq "api replicas" "$(jp deployment/api '{.spec.replicas}')" 8
	end
}

# d. api pool to 40: 8 x 40 = 320, plus 20 = 340 > 200: refused, the pool stays 20. Usage 180.
scenario_d() {
	begin "d. kubectl set env pool 40 on api (340 of 200) is refused"
	run k set env deployment/api "$pool_var=40" -n "$ns"
	expect_refused
	expect_err "would use 340 of 200 connections"
	expect_eq "api pool" "$(jp deployment/api "$pool_value")" 20
	end
}

# e. The pool size from a ConfigMap, resolved from the live ConfigMap (12, not the default 10).
#    reports 1 x 10 = 10: usage 190 (95%, warning). Its pool from configmap/pool-config
#    (configMapKeyRef): 1 x 12 = 12, usage 192, so the warning says 192 (unresolved: 190).
#    Then the difference between 12 and 10 per pod decides: reports at 2 x 12 = 24 gives 204 of
#    200, refused; at 2 x 10 it would be 200 and admitted. Same through envFrom (dry run).
#    Usage stays 192: api 160, worker 20, reports 12.
scenario_e() {
	begin "e1. a pool size set from a ConfigMap is admitted and counted as 12 (192 of 200)"
	run k create configmap pool-config "--from-literal=$pool_var=12" -n "$ns"
	expect_ok
	run k create deployment reports --image=nginx --replicas=1 -n "$ns"
	expect_ok
	expect_err "role 'synergyflow_app' at 190 of 200 connections (95%)"
	run k set env deployment/reports --from=configmap/pool-config -n "$ns"
	expect_ok
	expect_err "role 'synergyflow_app' at 192 of 200 connections (96%)"
	expect_eq "reports pool reference" \
	    "$(jp deployment/reports "$pool_ref")" \
	    pool-config
	end

	begin "e2. kubectl scale reports to 2 counts the ConfigMap's 12: 2 x 12 = 24, 204 of 200, refused"
	run k scale deployment/reports --replicas=2 -n "$ns"
	expect_refused
	expect_err "2 replicas x pool 12 = 24 connections"
	expect_err "would use 204 of 200 connections"
	expect_eq "reports replicas" "$(jp deployment/reports '{.spec.replicas}')" 1
	end

	begin "e3. envFrom the same ConfigMap also resolves to 12: dry-run 2 x 12 (204 of 200) refused"
	# reports at 2 replicas, its pool from envFrom configMapRef pool-config instead of env.
	cat >"$tmp/reports-envfrom.json" <<'EOF'
[{"op": "replace", "path": "/spec/replicas", "value": 2},
 {"op": "remove", "path": "/spec/template/spec/containers/0/env"},
 {"op": "add", "path": "/spec/template/spec/containers/0/envFrom",
  "value": [{"configMapRef": {"name": "pool-config"}}]}]
EOF
	run k patch deployment/reports -n "$ns" --dry-run=server --type=json \
	    --patch-file="$tmp/reports-envfrom.json"
	expect_refused
	expect_err "pool 12"
	expect_err "would use 204 of 200 connections"
	expect_eq "reports envFrom (dry run must not store)" \
	    "$(jp deployment/reports '{.spec.template.spec.containers[0].envFrom}')" ""
	end
}

# f. A server-side dry run of a new Deployment batch 5 x 20 = 100: 292 of 200, refused, and
#    batch does not exist afterwards. Usage 192.
scenario_f() {
	cat >"$tmp/batch.yaml" <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: batch
  namespace: $ns
spec:
  replicas: 5
  selector:
    matchLabels: {app: batch}
  template:
    metadata:
      labels: {app: batch}
    spec:
      containers:
        - name: batch
          image: nginx
          env:
            - name: $pool_var
              value: "20"
EOF
	begin "f. kubectl apply --dry-run=server of batch 5 x 20 (292 of 200) is refused; batch NotFound"
	run k apply --dry-run=server -f "$tmp/batch.yaml"
	expect_refused
	expect_err "would use 292 of 200 connections"
	run k get deployment batch -n "$ns"
	[ -n "$skip" ] || [ "$rc" -ne 0 ] || problem "deployment batch exists after a refused dry run"
	expect_err "NotFound"
	end
}

# hpa NAME MAX: an autoscaling/v2 HorizontalPodAutoscaler for deployment api.
hpa() {
	cat <<EOF
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: $1
  namespace: $ns
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}
  minReplicas: 2
  maxReplicas: $2
  metrics:
    - type: Resource
      resource:
        name: cpu
        target: {type: Utilization, averageUtilization: 70}
EOF
}

# g. With countHpaMaxReplicas, api counts its HPA's maxReplicas. maxReplicas 20: 20 x 20 = 400,
#    plus worker 20 and reports 12 = 432 of 200: refused. maxReplicas 8 equals api's replicas,
#    so api still counts 8 x 20 = 160 and usage stays 192: admitted.
scenario_g() {
	begin "g1. an HPA for api with maxReplicas 20 (432 of 200) is refused"
	hpa api 20 >"$tmp/hpa-20.yaml"
	run k create -f "$tmp/hpa-20.yaml"
	expect_refused
	expect_err "would use 432 of 200 connections"
	run k get hpa api -n "$ns"
	[ -n "$skip" ] || [ "$rc" -ne 0 ] || problem "the refused HPA was stored"
	end

	begin "g2. an HPA for api with maxReplicas 8 (192 of 200) is admitted"
	hpa api 8 >"$tmp/hpa-8.yaml"
	run k create -f "$tmp/hpa-8.yaml"
	expect_ok
	expect_eq "hpa maxReplicas" "$(jp hpa/api '{.spec.maxReplicas}')" 8
	end
}

# racer GOFILE NAME REPLICAS: waits for GOFILE, then scales deployment NAME; its output goes to
# race-NAME.out and race-NAME.err. Both racers wait on the same file, so they start together.
racer() {
	while [ ! -e "$1" ]; do
		sleep 0.01
	done
	k scale "deployment/$2" --replicas="$3" -n "$ns" >"$tmp/race-$2.out" 2>"$tmp/race-$2.err"
}

# race_round N: worker 0 -> 2 and reports 1 -> 2 at the same moment, from worker 0, reports 1.
# Records what went wrong as problems; puts the winner back, so the state is again 172.
race_round() {
	local r=$1 go=$tmp/race.go rc_w rc_r pw pr worker reports loser
	rm -f "$go"
	racer "$go" worker 2 &
	pw=$!
	racer "$go" reports 2 &
	pr=$!
	race_pids="$pw $pr"
	sleep 0.2
	touch "$go"
	wait "$pw"
	rc_w=$?
	wait "$pr"
	rc_r=$?
	race_pids=""
	note "round $r: worker 0->2: exit $rc_w: $(cat "$tmp/race-worker.out" "$tmp/race-worker.err")"
	note "round $r: reports 1->2: exit $rc_r: $(cat "$tmp/race-reports.out" "$tmp/race-reports.err")"
	worker=$(jp deployment/worker '{.spec.replicas}')
	reports=$(jp deployment/reports '{.spec.replicas}')
	note "round $r: stored worker $worker, reports $reports"
	if [ "$rc_w" -eq 0 ] && [ "$rc_r" -eq 0 ]; then
		problem "round $r: both scale-ups succeeded: usage 204 of 200"
	elif [ "$rc_w" -ne 0 ] && [ "$rc_r" -ne 0 ]; then
		problem "round $r: both scale-ups were refused, though either fits alone"
	else
		loser=worker
		[ "$rc_w" -ne 0 ] || loser=reports
		grep -q "admission webhook \"$webhook_name\" denied the request" "$tmp/race-$loser.err" ||
		    problem "round $r: the $loser scale-up failed, but not by poolguard's denial"
		if [ "$rc_w" -eq 0 ]; then
			expect_eq "round $r: stored worker,reports" "$worker,$reports" "2,1"
		else
			expect_eq "round $r: stored worker,reports" "$worker,$reports" "0,2"
		fi
	fi
	# Back to worker 0, reports 1: decreases (or no change), always admitted.
	run k scale deployment/worker --replicas=0 -n "$ns"
	expect_ok
	run k scale deployment/reports --replicas=1 -n "$ns"
	expect_ok
}

# h. Room first: worker to 0 (a decrease always fits): usage 172, 28 free. Then, at the same
#    moment, worker 0 -> 2 (+20: 192) and reports 1 -> 2 (+12: 184). Each fits alone; together
#    204 > 200, so exactly one may succeed. Without reservations the two are often judged on
#    the same state and both pass, but not always (the second may come after poolguard has seen
#    the first one stored), so this plays E2E_RACE_ROUNDS rounds (default 10), putting the winner
#    back after each. Usage after: 172 (api 160, worker 0, reports 12).
scenario_h() {
	local r rounds=${E2E_RACE_ROUNDS:-10}

	begin "h1. kubectl scale worker to 0 is admitted (172 of 200)"
	run k scale deployment/worker --replicas=0 -n "$ns"
	expect_ok
	expect_eq "worker replicas" "$(jp deployment/worker '{.spec.replicas}')" 0
	end

	begin "h2. concurrent worker 0->2 (+20) and reports 1->2 (+12), 28 free: one wins ($rounds rounds)"
	if [ -z "$skip" ]; then
		for ((r = 1; r <= rounds; r++)); do
			race_round "$r"
		done
	fi
	end
}

# i. Back to a known state (decreases only; h left it so): worker 0, reports 1: usage
#    160 + 0 + 12 = 172. Restart poolguard, which must rebuild that state from the cluster.
#    Then worker to 3 (+30: 202 of 200) is refused and worker to 2 (+20: 192 of 200, warning)
#    is admitted.
scenario_i() {
	begin "i1. back to api 8 x 20, worker 0, reports 1 x 12 (172 of 200); poolguard restarts, ready"
	run k scale deployment/worker --replicas=0 -n "$ns"
	expect_ok
	run k scale deployment/reports --replicas=1 -n "$ns"
	expect_ok
	if [ -z "$skip" ]; then
		stop_pid "$pg_pid"
		pg_pid=""
		expect_eq "poolguard exit status on SIGTERM" "$stop_status" 0
		pg_start
		pg_wait_ready || problem "$pg_ready_note"
	fi
	end || skip=${skip:-"poolguard did not come back"}

	begin "i2. after the restart, kubectl scale worker to 3 (202 of 200) is refused"
	run k scale deployment/worker --replicas=3 -n "$ns"
	expect_refused
	expect_err "would use 202 of 200 connections"
	expect_eq "worker replicas" "$(jp deployment/worker '{.spec.replicas}')" 0
	end

	begin "i3. after the restart, kubectl scale worker to 2 (192 of 200) is admitted with a warning"
	run k scale deployment/worker --replicas=2 -n "$ns"
	expect_ok
	expect_err "role 'synergyflow_app' at 192 of 200 connections (96%)"
	expect_eq "worker replicas" "$(jp deployment/worker '{.spec.replicas}')" 2
	end
}

# j. An HPA never lowers the count, and counts only when the HPA controller can act on it. api
#    has the HPA of g2 (maxReplicas 8) at 8 replicas: scaling it to 9 holds 9 x 20 = 180, 212 of
#    200 (counting the ceiling 8 instead would say 192). An HPA naming worker through a bogus
#    apiVersion is stored by Kubernetes but scales nothing: worker to 100 is 100 x 10 = 1000.
scenario_j() {
	begin "j1. kubectl scale api to 9 above its HPA's maxReplicas 8 (212 of 200) is refused"
	run k scale deployment/api --replicas=9 -n "$ns"
	expect_refused
	expect_err "would hold 9 replicas x pool 20 = 180 connections"
	expect_eq "api replicas" "$(jp deployment/api '{.spec.replicas}')" 8
	end

	begin "j2. an HPA with a bogus scaleTargetRef apiVersion does not hide kubectl scale to 100"
	cat >"$tmp/hpa-bogus.yaml" <<EOF
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: bogus, namespace: $ns}
spec:
  scaleTargetRef: {apiVersion: nonexistent.example/v1, kind: Deployment, name: worker}
  minReplicas: 1
  maxReplicas: 1
EOF
	run k create -f "$tmp/hpa-bogus.yaml"
	expect_ok
	sleep 1	# the watch delivers the HPA
	run k scale deployment/worker --replicas=100 -n "$ns"
	expect_refused
	expect_err "would hold 100 replicas x pool 10 = 1000 connections"
	expect_eq "worker replicas" "$(jp deployment/worker '{.spec.replicas}')" 2
	run k delete hpa bogus -n "$ns"
	expect_ok
	end
}

# m. A change that poolguard admits but etcd refuses (over its 1.5 MiB request limit) leaves a
#    reservation. It must never free connections: moving api (160) to the batch role with a
#    1.7 MB env var fails in etcd; worker 2 -> 5 (+30) is then 230 of 200 in reality, refused.
#    Last, since the reservation keeps api counted in the batch role (and the cluster) for 30 s.
scenario_m() {
	begin "m. an admitted move of api out of the role that etcd refuses frees nothing (230 of 200)"
	python3 - "$tmp/move-api.json" <<'PY'
import json, sys
patch = {"metadata": {"labels": {"tier": "batch"}},
         "spec": {"template": {"spec": {"containers": [{"name": "nginx",
             "env": [{"name": "PADDING", "value": "x" * 1700000}]}]}}}}
json.dump(patch, open(sys.argv[1], "w"))
PY
	run k patch deployment/api -n "$ns" --type=strategic --patch-file="$tmp/move-api.json"
	[ -n "$skip" ] || [ "$rc" -ne 0 ] || problem "the 1.7 MB patch was stored"
	has "$err" "request is too large" || problem "the patch did not fail in etcd: $err"
	expect_eq "api labels" "$(jp deployment/api '{.metadata.labels.tier}')" ""
	run k scale deployment/worker --replicas=5 -n "$ns"
	expect_refused
	expect_err "role 'synergyflow_app' would use 230 of 200 connections"
	expect_eq "worker replicas" "$(jp deployment/worker '{.spec.replicas}')" 2
	end
}

# k. kubectl edit of a ConfigMap raises every workload that reads it. reports (1 replica) reads
#    pool-config (12): 25 would be 1 x 25, 205 of 200, refused naming the ConfigMap, the key and
#    what fits; 20 is 200 of 200, admitted with a warning.
scenario_k() {
	begin "k1. a ConfigMap raise of reports' pool to 25 (205 of 200) is refused, saying what fits"
	run k patch configmap pool-config -n "$ns" --type=merge -p "{\"data\":{\"$pool_var\":\"25\"}}"
	expect_refused
	expect_err "ConfigMap synergyflow/pool-config key '$pool_var' raises deployment"
	expect_err "synergyflow/reports 1 x 12 -> 1 x 25 (+13)"
	expect_err "role 'synergyflow_app' would use 205 of 200 connections"
	expect_err "what fits: '$pool_var' at most 20"
	expect_eq "pool-config value" "$(jp configmap/pool-config "{.data.$pool_var}")" 12
	end

	begin "k2. the ConfigMap raise to 20 (200 of 200) is admitted with a warning and counted"
	run k patch configmap pool-config -n "$ns" --type=merge -p "{\"data\":{\"$pool_var\":\"20\"}}"
	expect_ok
	expect_err "role 'synergyflow_app' at 200 of 200 connections (100%)"
	wait_until 10 pg_metric_is 'poolguard_role_connections{role="synergyflow_app"}' 200 ||
	    problem "the role's connections did not become 200 once the ConfigMap was watched"
	end
}

# l. At 200 of 200, kubectl rollout restart of api (8 x 20, maxSurge 25% = 2) would run 10 pods:
#    240 of 200 at the peak. Warned by default, with the maxSurge that fits; refused with
#    rolloutPeak: deny (the budget is reloaded for that, then put back).
scenario_l() {
	begin "l1. kubectl rollout restart at the limit is admitted with the peak and a maxSurge that fits"
	run k rollout restart deployment/api -n "$ns"
	expect_ok
	expect_err "rollout peak: role 'synergyflow_app' 240 of 200 (8 old x 20 + 2 new x 20); maxSurge 0"
	end

	begin "l2. with rolloutPeak: deny the same restart is refused"
	if [ -z "$skip" ]; then
		echo "rolloutPeak: deny" >>"$tmp/budget.yaml"
		wait_until 15 restart_refused || problem "the restart was not refused after the reload"
	fi
	run k rollout restart deployment/api -n "$ns"
	expect_refused
	expect_err "its rollout would peak at 200 connections (8 old x 20 + 2 new x 20 with maxSurge 2)"
	expect_err "what fits: maxSurge 0 (maxUnavailable >= 1) (rolloutPeak: deny)"
	if [ -z "$skip" ]; then
		write_budget
		wait_until 15 restart_admitted || problem "the budget without rolloutPeak did not return"
	fi
	end
}

# pg_metric_is SAMPLE VALUE: poolguard's /metrics has the line "SAMPLE VALUE".
pg_metric_is() {
	curl -s --cacert certs/out/ca.crt "https://127.0.0.1:$pg_port/metrics" | grep -qxF "$1 $2"
}

# restart_probe: a server-side dry run of what a restart of api does (a new template annotation).
restart_probe() {
	k patch deployment/api -n "$ns" --dry-run=server --type=merge \
	    -p "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"e2e/probe\":\"$(now_ms)\"}}}}}"
}

# restart_refused: poolguard refuses it for its peak; restart_admitted: it does not.
restart_refused() {
	restart_probe 2>&1 | grep -q "rolloutPeak: deny"
}

restart_admitted() {
	restart_probe >/dev/null 2>&1
}

# n. A Deployment that mounts its application.yml from a ConfigMap at /config is counted from it:
#    a server-side dry run of batch-yml 2 x 30 (the file's maximum-pool-size) would be 260 of 200.
scenario_n() {
	begin "n. a Deployment mounting application.yml (pool 30) at /config is counted from the file"
	cat >"$tmp/app-config.yaml" <<EOF
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config, namespace: $ns}
data:
  application.yml: |
    spring:
      datasource:
        hikari:
          maximum-pool-size: 30
EOF
	cat >"$tmp/batch-yml.yaml" <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: batch-yml, namespace: $ns}
spec:
  replicas: 2
  selector: {matchLabels: {app: batch-yml}}
  template:
    metadata: {labels: {app: batch-yml}}
    spec:
      containers:
        - name: app
          image: nginx
          volumeMounts: [{name: cfg, mountPath: /config}]
      volumes: [{name: cfg, configMap: {name: app-config}}]
EOF
	run k apply -f "$tmp/app-config.yaml"
	expect_ok
	sleep 1	# the watch delivers the ConfigMap
	run k apply -f "$tmp/batch-yml.yaml" --dry-run=server
	expect_refused
	expect_err "deployment synergyflow/batch-yml would hold 2 replicas x pool 30 = 60 connections"
	run k get deployment batch-yml -n "$ns"
	[ -n "$skip" ] || [ "$rc" -ne 0 ] || problem "batch-yml was stored by a dry run"
	end
}

# What sharing a reservation costs: the latency poolguard logged for every answer that went through
# the Lease (decision lines with "lease": an admitted increase is a GET and a PUT, more on
# conflicts; one refused after reading it, a GET) against every answer from memory in the same
# run, and the Lease calls' own latency from /metrics. It must stay well inside the webhook's 5 s.
report_lease_cost() {
	local metrics
	begin "the cost of a shared reservation, from poolguard's decision log and /metrics"
	if [ -z "$skip" ]; then
		metrics=$(curl -sS --max-time 5 --cacert certs/out/ca.crt \
		    "https://127.0.0.1:$pg_port/metrics" 2>&1)
		run python3 - "$tmp/logs/poolguard.log" "$metrics" <<'EOF'
import json, statistics, sys
shared, memory = [], []
for line in open(sys.argv[1], errors="replace"):
    try:
        d = json.loads(line)
    except ValueError:
        continue
    if d.get("event") != "decision" or "latencyMs" not in d:
        continue
    if d.get("lease") == "unavailable":
        continue
    (shared if d.get("lease") else memory).append(d["latencyMs"])
calls = {}
for line in sys.argv[2].splitlines():
    for k in ("poolguard_reservation_api_seconds_sum", "poolguard_reservation_api_seconds_count"):
        if line.startswith(k + " "):
            calls[k] = float(line.split()[1])
if len(shared) < 5 or len(memory) < 5 or len(calls) != 2 or calls[k] == 0:
    sys.exit("too few samples: %d increases, %d other answers, metrics %s" % (
        len(shared), len(memory), calls))
q = lambda xs, p: sorted(xs)[min(len(xs) - 1, int(p * len(xs)))]
print("answers through the Lease: n=%d median %.2f ms p95 %.2f ms; "
      "answers from memory: n=%d median %.3f ms p95 %.3f ms; Lease calls (this poolguard): "
      "n=%d mean %.2f ms" % (len(shared), statistics.median(shared), q(shared, 0.95),
      len(memory), statistics.median(memory), q(memory, 0.95),
      calls["poolguard_reservation_api_seconds_count"],
      1e3 * calls["poolguard_reservation_api_seconds_sum"] /
      calls["poolguard_reservation_api_seconds_count"]))
if q(shared, 0.95) > 2000:
    sys.exit("the p95 of an answer through the Lease is over the 2 s --lease-timeout")
EOF
		expect_ok
		echo "# lease cost: $out"
	fi
	end
}

# ---------------------------------------------------------------------------------------------

tmp=$(mktemp -d "${TMPDIR:-/tmp}/poolguard-e2e.XXXXXX") || exit 2
mkdir -p "$tmp/logs" "$tmp/home"
echo "# poolguard e2e in $root, state in $tmp"
[ -z "${E2E_INVENTORY:-}" ] ||
    echo "# E2E_INVENTORY: poolguard judges against $E2E_INVENTORY, not the live cluster"

bring_up
check_manifests
# shellcheck source=tests/e2e/replicas.sh
. tests/e2e/replicas.sh
# shellcheck source=tests/e2e/faults.sh
. tests/e2e/faults.sh
for s in a b c d e f g h i j k l n m; do
	"scenario_$s"
done
report_lease_cost
for s in $replica_scenarios $fault_scenarios; do
	"scenario_$s"
done
completed=1
exit 0
