#!/usr/bin/env bash
# The one build, checked without building an image: the Makefile's default goal, its message when
# a library is missing, and the Dockerfile's Debian packages against the Makefile's PKGS and what
# build/poolguard links.
#
#   bash tests/docker/check.sh          from the repository root, after `make`
#
# DOCKERFILE=FILE checks another Dockerfile (default ./Dockerfile), PKGS="..." other pkg-config
# names (default the Makefile's), POOLGUARD_BIN another program (default build/poolguard).
# Prints "ok - ..." / "not ok - ..." per check and ends with "N passed, N failed"; exits 1 when a
# check failed.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 2
DOCKERFILE=${DOCKERFILE:-Dockerfile}
POOLGUARD=${POOLGUARD_BIN:-build/poolguard}
PKGS=${PKGS:-$(sed -n 's/^PKGS *:*= *//p' Makefile)}
passed=0
failed=0
TMP=$(mktemp -d /tmp/poolguard-build-check.XXXXXX) || exit 2
trap 'rm -rf "$TMP"; echo "$passed passed, $failed failed"' EXIT

ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $*"; }
show() { sed 's/^/    # /' "$1" | tail -n "${2:-20}"; }
# A make of this checkout, free of the MAKEFLAGS of a make that runs this script.
submake() { env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make --no-print-directory "$@"; }

# ---- the Makefile ----------------------------------------------------------------------------
submake -n BUILD="$TMP/b" >"$TMP/default.out" 2>&1
if grep -q -- "-o $TMP/b/poolguard " "$TMP/default.out" && ! grep -q dpkg "$TMP/default.out"; then
	ok "make with no goal builds \$(BUILD)/poolguard"
else
	not_ok "make with no goal does not build \$(BUILD)/poolguard"
	show "$TMP/default.out"
fi

# A pkg-config search path that has every .pc file but libpq's.
mkdir -p "$TMP/pc"
IFS=: read -r -a pcdirs <<<"$(pkg-config --variable pc_path pkg-config)"
for d in "${pcdirs[@]}"; do
	for f in "$d"/*.pc; do
		[ -e "$f" ] && [ "$(basename "$f")" != libpq.pc ] && ln -sf "$f" "$TMP/pc/"
	done
done
PKG_CONFIG_LIBDIR=$TMP/pc PKG_CONFIG_PATH= submake BUILD="$TMP/nopq" >"$TMP/nopq.out" 2>&1
rc=$?
if [ "$rc" -ne 0 ] && grep -q "Package 'libpq'.* not found" "$TMP/nopq.out" &&
	grep -q "^make: pkg-config cannot find a library poolguard needs" "$TMP/nopq.out" &&
	[ ! -e "$TMP/nopq/obj" ]; then
	ok "make without libpq.pc stops before compiling, naming libpq (exit $rc)"
else
	not_ok "make without libpq.pc: exit $rc, no message naming libpq or something compiled"
	show "$TMP/nopq.out"
fi

# ---- the Dockerfile --------------------------------------------------------------------------
# Lines "STAGE PACKAGE" for every package an apt-get install of the Dockerfile names; stages are
# numbered from 1 by FROM. Continuation lines are joined first.
awk '
	/\\$/ { sub(/\\$/, ""); line = line $0 " "; next }
	{ line = line $0; $0 = line; line = "" }
	$1 == "FROM" { stage++ }
	$1 == "RUN" {
		n = split($0, cmds, "&&")
		for (i = 1; i <= n; i++) {
			c = split(cmds[i], w, " ")
			for (j = 1; j <= c && w[j] != "install"; j++)
				;
			if (j > c || cmds[i] !~ /apt-get/)
				continue
			for (j++; j <= c; j++)
				if (w[j] !~ /^-/)
					print stage, w[j]
		}
	}' "$DOCKERFILE" >"$TMP/stages"
stages=$(grep -c '^FROM ' "$DOCKERFILE")
awk '$1 == 1 { print $2 }' "$TMP/stages" | sort -u >"$TMP/build.list"
awk -v s="$stages" '$1 == s { print $2 }' "$TMP/stages" | sort -u >"$TMP/runtime.list"

# What apt-get install of a list puts there: the list and what it depends on.
closure() {
	# shellcheck disable=SC2046
	apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
		--no-replaces --no-enhances $(cat "$1") 2>/dev/null | grep -v '^ ' | sort -u
}
closure "$TMP/build.list" >"$TMP/build.all"
closure "$TMP/runtime.list" >"$TMP/runtime.all"
if [ ! -s "$TMP/build.all" ] || [ ! -s "$TMP/runtime.all" ]; then
	not_ok "apt-cache knows the Dockerfile's packages (apt-get update?)"
	exit 1
fi
# The package that owns a file (dpkg records some paths without merged /usr's /usr).
owner() {
	local f=$1 p
	for p in "$f" "$(readlink -f "$f")" "${f#/usr}" "/usr$f"; do
		dpkg -S "$p" 2>/dev/null | sed -n '1s/[:,].*//p' | grep . && return 0
	done
	return 1
}

missing=""
for pkg in $PKGS; do
	pc=$(pkg-config --path "$pkg" 2>/dev/null) && deb=$(owner "$pc") || {
		missing="$missing $pkg(no .pc installed here)"
		continue
	}
	grep -qx "$deb" "$TMP/build.all" || missing="$missing $deb(for $pkg)"
done
for tool in gcc libc6-dev make pkg-config; do
	grep -qx "$tool" "$TMP/build.all" || missing="$missing $tool"
done
if [ -z "$missing" ]; then
	ok "build stage installs the -dev package of every library in PKGS ($PKGS), gcc, libc6-dev, make, pkg-config"
else
	not_ok "build stage of $DOCKERFILE lacks:$missing"
fi

# Each file the Makefile includes must be copied in before `make` runs there.
uncopied=""
for mk in $(sed -n 's/^-\{0,1\}include //p' Makefile); do
	awk -v f="$mk" '$1 == "FROM" { stage++ } stage == 1 && $1 == "COPY" {
		for (i = 2; i < NF; i++) if ($i == f) found = 1 } END { exit !found }' "$DOCKERFILE" ||
		uncopied="$uncopied $mk"
done
if [ -z "$uncopied" ]; then
	ok "build stage copies every file the Makefile includes"
else
	not_ok "build stage does not copy what the Makefile includes:$uncopied"
fi

if [ ! -x "$POOLGUARD" ]; then
	not_ok "runtime stage: '$POOLGUARD' not built (make)"
	exit 1
fi
needed=""
unknown=""
for so in $(readelf -d "$POOLGUARD" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
	path=$(ldconfig -p | awk -v so="$so" '$1 == so && /x86-64|x32|\(libc6\)/ { print $NF; exit }')
	if [ -n "$path" ] && deb=$(owner "$path"); then
		needed="$needed $deb"
	else
		unknown="$unknown $so"
	fi
done
lacking=""
for deb in $needed; do
	grep -qx "$deb" "$TMP/runtime.all" || lacking="$lacking $deb"
done
if [ -z "$lacking" ] && [ -z "$unknown" ]; then
	ok "runtime stage installs the package of every library $POOLGUARD links:$needed"
else
	not_ok "runtime stage of $DOCKERFILE lacks:$lacking${unknown:+ (no package found for$unknown)}"
fi
extra=""
while read -r deb; do
	case " $needed ca-certificates " in *" $deb "*) ;; *) extra="$extra $deb" ;; esac
done <"$TMP/runtime.list"
if [ -z "$extra" ]; then
	ok "runtime stage installs nothing but those libraries and ca-certificates"
else
	not_ok "runtime stage installs packages $POOLGUARD does not link:$extra"
fi
[ "$failed" -eq 0 ]
