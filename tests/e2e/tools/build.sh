#!/usr/bin/env bash
# Build the e2e test binaries (kubectl, kube-apiserver, etcd) from source,
# using only the Go module proxy, at the versions pinned in
#   tests/e2e/tools/k8s/go.mod   (k8s.io/kubernetes -> kubectl, kube-apiserver)
#   tests/e2e/tools/etcd/go.mod  (go.etcd.io/etcd/server/v3 -> etcd)
#
# Usage: tests/e2e/tools/build.sh [--force] [kubectl|kube-apiserver|etcd ...]
#   With no names, builds all three. A binary whose stamp file matches the
#   pinned version (and go.mod/go.sum) is not rebuilt; --force rebuilds it.
#   Output: one NAME=PATH line per binary on stdout (KUBECTL=, KUBE_APISERVER=,
#   ETCD=), so `eval "$(tests/e2e/tools/build.sh)"` works; progress on stderr.
#
# Environment:
#   POOLGUARD_E2E_CACHE       cache root (default $HOME/.cache/poolguard-e2e);
#                             binaries go to $POOLGUARD_E2E_CACHE/bin
#   POOLGUARD_E2E_BUILD_JOBS  go build -p / GOMAXPROCS (default: CPUs, capped
#                             so that each job has ~2 GiB of RAM)
#
# Expect a long first run: kube-apiserver is a large build (tens of minutes
# on 2 cores). Needs Go >= the go line of the two go.mod files.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${POOLGUARD_E2E_CACHE:-${HOME:?HOME is not set}/.cache/poolguard-e2e}
bindir=$cache/bin

log() { printf 'build.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

force=0
want=()
for a in "$@"; do
    case $a in
        --force) force=1 ;;
        kubectl|kube-apiserver|etcd) want+=("$a") ;;
        -h|--help) sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $a (try --help)" ;;
    esac
done
[ ${#want[@]} -gt 0 ] || want=(kubectl kube-apiserver etcd)

# The Go toolchain's usual home, for a shell whose PATH leaves it out.
command -v go >/dev/null 2>&1 || [ ! -x /usr/local/go/bin/go ] || PATH=$PATH:/usr/local/go/bin
command -v go >/dev/null 2>&1 || die "go is not installed or not on PATH"

# Build inside the pinned modules only: no workspace from a parent dir, no
# edits to go.mod/go.sum (a complete go.sum is committed), static binaries.
export GOWORK=off
export GOFLAGS="-mod=readonly -buildvcs=false"
export CGO_ENABLED=0

jobs=${POOLGUARD_E2E_BUILD_JOBS:-}
if [ -z "$jobs" ]; then
    jobs=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
    mem_kb=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo 2>/dev/null || echo 0)
    if [ "${mem_kb:-0}" -gt 0 ]; then
        by_mem=$(( mem_kb / (2 * 1024 * 1024) ))
        [ "$by_mem" -ge 1 ] || by_mem=1
        [ "$jobs" -le "$by_mem" ] || jobs=$by_mem
    fi
fi
export GOMAXPROCS=$jobs

mkdir -p "$bindir"

sha() { cat "$@" | sha256sum | cut -c1-16; }  # short content hash of files

# modinfo DIR MODULE -> "VERSION TIME" of MODULE as pinned by DIR/go.mod
modinfo() {
    (cd "$1" && go list -m -f '{{.Version}} {{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' "$2")
}

# build NAME MODDIR PKG KEY LDFLAGS [go build flags...]
build() {
    local name=$1 moddir=$2 pkg=$3 key=$4 ldflags=$5
    shift 5
    local out=$bindir/$name stamp=$bindir/.$name.stamp
    # Changing the build flags (in this script) also invalidates the stamp.
    key+=" flags=$(printf '%s\n' "$ldflags" "$@" | sha256sum | cut -c1-16)"
    if [ "$force" = 0 ] && [ -x "$out" ] && [ -f "$stamp" ] &&
        [ "$(head -n1 "$stamp")" = "$key" ]; then
        log "$name: up to date ($key)"
        return 0
    fi
    log "$name: building $pkg (-p $jobs); this can take a while"
    local t0 t1 tmp=$out.tmp.$$
    t0=$(date +%s)
    rm -f "$stamp"
    if ! (cd "$moddir" && go build -p "$jobs" -trimpath -ldflags="-s -w $ldflags" \
            "$@" -o "$tmp" "$pkg"); then
        rm -f "$tmp"
        die "$name: go build failed"
    fi
    mv -f "$tmp" "$out"
    t1=$(date +%s)
    printf '%s\nbuilt %s in %ss with %s, -p %s\n' "$key" \
        "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$((t1 - t0))" "$(go env GOVERSION)" "$jobs" >"$stamp"
    log "$name: built in $((t1 - t0))s -> $out"
}

for name in "${want[@]}"; do
    case $name in
        kubectl|kube-apiserver)
            read -r kver ktime < <(modinfo "$here/k8s" k8s.io/kubernetes)
            [ -n "${kver:-}" ] || die "cannot read the k8s.io/kubernetes version from $here/k8s/go.mod"
            kmaj=${kver#v}; kmaj=${kmaj%%.*}
            kmin=${kver#v*.}; kmin=${kmin%%.*}
            kld=""
            for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
                kld+=" -X $p.gitVersion=$kver -X $p.gitMajor=$kmaj -X $p.gitMinor=$kmin"
                kld+=" -X $p.gitTreeState=archive -X $p.buildDate=$ktime -X $p.gitCommit="
            done
            # Same build tags as the upstream release build (hack/lib/golang.sh).
            build "$name" "$here/k8s" "k8s.io/kubernetes/cmd/$name" \
                "$name k8s.io/kubernetes@$kver mod=$(sha "$here/k8s/go.mod" "$here/k8s/go.sum")" \
                "$kld" -tags=selinux,notest
            ;;
        etcd)
            read -r ever _ < <(modinfo "$here/etcd" go.etcd.io/etcd/server/v3)
            [ -n "${ever:-}" ] || die "cannot read the etcd version from $here/etcd/go.mod"
            build etcd "$here/etcd" go.etcd.io/etcd/server/v3 \
                "etcd go.etcd.io/etcd/server/v3@$ever mod=$(sha "$here/etcd/go.mod" "$here/etcd/go.sum")" \
                "-X go.etcd.io/etcd/api/v3/version.GitSHA=$ever"
            ;;
    esac
done

for name in "${want[@]}"; do
    var=$(printf '%s' "$name" | tr 'a-z-' 'A-Z_')
    printf '%s=%s\n' "$var" "$bindir/$name"
done
