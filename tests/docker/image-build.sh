#!/usr/bin/env bash
# Builds the Dockerfile, both stages, with buildah (no Docker daemon), and runs poolguard from the
# image it made.
#
#   make docker-test                      (installs buildah and debootstrap when missing)
#   bash tests/docker/image-build.sh      as root, from the repository root
#
# Docker Hub cannot be reached from the machines this runs on, so debian:bookworm and
# debian:bookworm-slim are made here: `debootstrap --variant=minbase bookworm` from Debian's
# mirror, imported into buildah's store under both names. The Dockerfile then builds unchanged
# (`buildah bud --pull=never --isolation chroot --storage-driver vfs`): its apt-get installs from
# Debian's mirror, its COPYs through .dockerignore, its `make`, and the runtime stage's
# `poolguard --version`. The finished image is then run: `poolguard check` on the example
# manifests as user 65532, and `poolguard serve` answering /healthz over TLS.
#
# The debootstrap result is kept as a tarball in $POOLGUARD_DOCKER_CACHE (default
# ~/.cache/poolguard-docker; delete it to start over, it is remade after 30 days); buildah's store
# is a temporary directory, removed at the end (KEEP=1 keeps it). POOLGUARD_IMAGE_ARCHIVE=FILE
# also writes the image as a docker-archive (`docker load -i FILE`, `kind load image-archive FILE`).
# DOCKERFILE=FILE builds another Dockerfile (the context stays the repository root).
# Prints "ok - ..." / "not ok - ..." per check and ends with "N passed, N failed".
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 2
CACHE=${POOLGUARD_DOCKER_CACHE:-$HOME/.cache/poolguard-docker}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE_TAR=$CACHE/bookworm-minbase.tar
IMAGE=localhost/poolguard:test
DOCKERFILE=${DOCKERFILE:-Dockerfile}
passed=0
failed=0
STORE=
CTR=
SERVER=

ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $*"; }
show() { [ -f "$1" ] && sed 's/^/    # /' "$1" | tail -n "${2:-30}"; }
abort() {
	not_ok "$1"
	[ -n "${2:-}" ] && show "$2"
	exit 1
}
bh() { buildah --root "$STORE/root" --runroot "$STORE/run" --storage-driver vfs "$@"; }
finish() {
	[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
	if [ -n "$STORE" ]; then
		if [ "${KEEP:-0}" = 1 ]; then
			echo "# kept buildah's store: buildah --root $STORE/root --runroot $STORE/run" \
				"--storage-driver vfs images"
		else
			[ -n "$CTR" ] && bh rm "$CTR" >/dev/null 2>&1
			rm -rf "$STORE"
		fi
	fi
	echo "$passed passed, $failed failed"
}
trap finish EXIT
trap 'exit 1' INT TERM HUP

[ "$(id -u)" -eq 0 ] || abort "prerequisites: run as root (buildah's chroot isolation, debootstrap)"
for tool in buildah debootstrap; do
	command -v "$tool" >/dev/null || abort "prerequisites: $tool missing (make docker-test installs it)"
done
# The base images the Dockerfile names must be the ones made here.
for from in $(awk '$1 == "FROM" { print $2 }' "$DOCKERFILE"); do
	case $from in
	debian:bookworm | debian:bookworm-slim) ;;
	*) abort "prerequisites: the Dockerfile is FROM $from; only debian:bookworm(-slim) is made here" ;;
	esac
done

# ---- the base image --------------------------------------------------------------------------
mkdir -p "$CACHE"
if [ -f "$BASE_TAR" ] && [ -z "$(find "$BASE_TAR" -mtime +30)" ]; then
	echo "# base: $BASE_TAR ($(date -r "$BASE_TAR" +%F))"
else
	rootfs=$(mktemp -d /var/tmp/poolguard-rootfs.XXXXXX) || abort "mktemp"
	start=$(date +%s)
	if debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 &&
		tar -C "$rootfs" -cf "$BASE_TAR.new" . && mv "$BASE_TAR.new" "$BASE_TAR"; then
		echo "# base: debootstrap --variant=minbase bookworm in $(($(date +%s) - start)) s"
	else
		rm -rf "$rootfs" "$BASE_TAR.new"
		abort "debootstrap bookworm from $MIRROR" "$CACHE/debootstrap.log"
	fi
	rm -rf "$rootfs"
fi

STORE=$(mktemp -d /var/tmp/poolguard-buildah.XXXXXX) || abort "mktemp"
CTR=$(bh from scratch 2>"$STORE/import.log") &&
	bh add "$CTR" "$BASE_TAR" / >>"$STORE/import.log" 2>&1 &&
	bh config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		--cmd bash "$CTR" >>"$STORE/import.log" 2>&1 &&
	bh commit -q "$CTR" docker.io/library/debian:bookworm >>"$STORE/import.log" 2>&1 &&
	bh tag docker.io/library/debian:bookworm docker.io/library/debian:bookworm-slim \
		>>"$STORE/import.log" 2>&1 ||
	abort "import the debootstrap tree as debian:bookworm and debian:bookworm-slim" "$STORE/import.log"
bh rm "$CTR" >/dev/null 2>&1
CTR=
ok "base: debootstrap bookworm minbase imported as debian:bookworm and debian:bookworm-slim"

# ---- the Dockerfile --------------------------------------------------------------------------
start=$(date +%s)
bh bud --pull=never --isolation chroot --layers=false -t "$IMAGE" -f "$DOCKERFILE" . \
	>"$STORE/bud.log" 2>&1
rc=$?
secs=$(($(date +%s) - start))
if [ "$rc" -eq 0 ]; then
	ok "buildah bud of the Dockerfile: both stages, apt-get, make, poolguard --version ($secs s)"
else
	not_ok "buildah bud of the Dockerfile: exit $rc after $secs s"
	show "$STORE/bud.log" 40
	exit 1
fi
grep -q '^poolguard [0-9]' "$STORE/bud.log" &&
	[ "$(grep -c '^poolguard [0-9]' "$STORE/bud.log")" -ge 2 ] &&
	ok "poolguard --version ran in the build stage and in the runtime stage: $(grep -m 1 '^poolguard [0-9]' "$STORE/bud.log")" ||
	not_ok "poolguard --version did not print in both stages"

config=$(bh inspect --type image --format \
	'{{.OCIv1.Config.User}}|{{range .OCIv1.Config.Entrypoint}}{{.}}{{end}}|{{range $p, $_ := .OCIv1.Config.ExposedPorts}}{{$p}}{{end}}' \
	"$IMAGE" 2>&1)
if [ "$config" = "65532:65532|/usr/local/bin/poolguard|8443/tcp" ]; then
	ok "image config: user 65532:65532, entrypoint /usr/local/bin/poolguard, port 8443"
else
	not_ok "image config: got '$config'"
fi
size=$(bh images --format '{{.Size}}' "$IMAGE" 2>/dev/null)
echo "# image $IMAGE: $size"

# ---- the image's poolguard -------------------------------------------------------------------
CTR=$(bh from --pull=never "$IMAGE" 2>"$STORE/from.log") || abort "buildah from $IMAGE" "$STORE/from.log"
sh certs/make-certs.sh "$STORE/certs" >"$STORE/certs.log" 2>&1 || abort "make certificates" "$STORE/certs.log"
chmod 0644 "$STORE/certs/serving.key"
bh copy "$CTR" manifests /tmp/manifests >/dev/null &&
	bh copy "$CTR" "$STORE/certs" /tmp/certs >/dev/null ||
	abort "copy the manifests and certificates into the container"
run_in() { bh run --isolation chroot --user 65532:65532 "$CTR" -- "$@"; }

run_in /usr/local/bin/poolguard check --config /tmp/manifests/budget-configmap.yaml \
	/tmp/manifests/examples/inventory.yaml >"$STORE/check.out" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && grep -q 'synergyflow_app' "$STORE/check.out"; then
	ok "the image's poolguard check on manifests/examples/inventory.yaml as user 65532: exit 0"
else
	not_ok "the image's poolguard check: exit $rc"
	show "$STORE/check.out"
fi

# chroot isolation shares the host's network, so the server is reachable on 127.0.0.1.
port=$((20000 + RANDOM % 12000))
# buildah itself in the background, not a subshell: a SIGTERM to it ends the container's process.
buildah --root "$STORE/root" --runroot "$STORE/run" --storage-driver vfs run --isolation chroot \
	--user 65532:65532 "$CTR" -- /usr/local/bin/poolguard serve \
	--config /tmp/manifests/budget-configmap.yaml --inventory /tmp/manifests/examples/inventory.yaml \
	--tls-cert /tmp/certs/serving.crt --tls-key /tmp/certs/serving.key \
	--listen "127.0.0.1:$port" >"$STORE/serve.log" 2>&1 &
SERVER=$!
code=
for _ in $(seq 50); do
	code=$(curl -s -o "$STORE/healthz" -w '%{http_code}' --max-time 2 \
		--cacert "$STORE/certs/ca.crt" "https://127.0.0.1:$port/healthz")
	[ "$code" = 200 ] && break
	sleep 0.2
done
if [ "$code" = 200 ]; then
	ok "the image's poolguard serve answers GET /healthz over TLS with 200"
else
	not_ok "the image's poolguard serve: /healthz gave '$code'"
	show "$STORE/serve.log"
fi
code=$(curl -s -o "$STORE/review.out" -w '%{http_code}' --max-time 5 --cacert "$STORE/certs/ca.crt" \
	-H 'Content-Type: application/json' \
	--data-binary @manifests/examples/review-scale-api-to-11.json "https://127.0.0.1:$port/validate")
if [ "$code" = 200 ] && grep -q '"allowed":false' "$STORE/review.out"; then
	ok "the image's poolguard serve denies the example scale to 11 replicas on /validate"
else
	not_ok "the image's poolguard serve: /validate gave '$code'"
	show "$STORE/review.out"
	show "$STORE/serve.log"
fi
kill "$SERVER" 2>/dev/null
wait "$SERVER" 2>/dev/null
SERVER=
if curl -s -o /dev/null --max-time 2 --cacert "$STORE/certs/ca.crt" "https://127.0.0.1:$port/healthz"; then
	not_ok "the image's poolguard serve still answers after buildah run was stopped"
fi

if [ -n "${POOLGUARD_IMAGE_ARCHIVE:-}" ]; then
	if bh push -q "$IMAGE" "docker-archive:$POOLGUARD_IMAGE_ARCHIVE:poolguard:0.1.0" \
		>"$STORE/push.log" 2>&1; then
		ok "image written to $POOLGUARD_IMAGE_ARCHIVE (docker-archive, poolguard:0.1.0)"
	else
		not_ok "write the image to $POOLGUARD_IMAGE_ARCHIVE"
		show "$STORE/push.log"
	fi
fi
[ "$failed" -eq 0 ]
