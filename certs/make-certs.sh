#!/bin/sh
# Makes a development CA, a serving certificate for poolguard and a client certificate for the
# API server with the openssl command line.
#
#   sh certs/make-certs.sh [OUTDIR]      (default certs/out)
#
# Writes OUTDIR/ca.crt, ca.key, serving.crt, serving.key, apiserver-client.crt and
# apiserver-client.key. The serving certificate carries the names the webhook is reached by:
# localhost and 127.0.0.1 for local runs and tests, the in-cluster Service names for a cluster.
# The client certificate (extended key usage clientAuth only) is what the API server presents to
# `poolguard serve --client-ca OUTDIR/ca.crt` (README, Install: its AdmissionConfiguration names
# it). Existing files are kept and only missing ones are made; FORCE=1 issues new leaf
# certificates from the existing CA (a rotation), FORCE_CA=1 makes a new CA as well.
# Extra names: EXTRA_SANS="DNS:foo.example,IP:10.0.0.1". Days valid: DAYS (default 365).
set -eu

out=${1:-certs/out}
days=${DAYS:-365}
sans="DNS:localhost,IP:127.0.0.1,IP:::1,DNS:poolguard,DNS:poolguard.poolguard-system"
sans="$sans,DNS:poolguard.poolguard-system.svc,DNS:poolguard.poolguard-system.svc.cluster.local"
[ -n "${EXTRA_SANS:-}" ] && sans="$sans,$EXTRA_SANS"

# want NAME: 0 when OUTDIR/NAME.crt and .key must be (re)issued.
want() {
	[ "${FORCE:-0}" = 1 ] || [ "${FORCE_CA:-0}" = 1 ] || [ ! -s "$out/$1.crt" ] ||
	    [ ! -s "$out/$1.key" ]
}

# issue NAME SUBJECT EXTENSIONS...: a P-256 key and a certificate signed by the CA. The new files
# are written beside the old ones and renamed into place, so a running server never reads a key
# that does not match its certificate for long.
issue() {
	name=$1
	subject=$2
	shift 2
	openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-keyout "$out/$name.key.new" -out "$out/$name.csr" -subj "$subject" 2>/dev/null
	printf '%s\n' "$@" > "$out/$name.ext"
	openssl x509 -req -in "$out/$name.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" \
		-CAcreateserial -out "$out/$name.crt.new" -days "$days" -extfile "$out/$name.ext" \
		2>/dev/null
	mv "$out/$name.key.new" "$out/$name.key"
	mv "$out/$name.crt.new" "$out/$name.crt"
	rm -f "$out/$name.csr" "$out/$name.ext" "$out/ca.srl"
	chmod 644 "$out/$name.crt"
}

if ! want serving && ! want apiserver-client; then
	echo "certs: $out/serving.crt and $out/apiserver-client.crt exist (FORCE=1 to replace)"
	exit 0
fi
mkdir -p "$out"
umask 077

if [ ! -s "$out/ca.key" ] || [ ! -s "$out/ca.crt" ] || [ "${FORCE_CA:-0}" = 1 ]; then
	openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-keyout "$out/ca.key" -out "$out/ca.crt" -days $((days * 10)) \
		-subj "/CN=poolguard development CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
	chmod 644 "$out/ca.crt"
fi

if want serving; then
	issue serving "/CN=poolguard.poolguard-system.svc" \
		"basicConstraints=critical,CA:FALSE" \
		"keyUsage=critical,digitalSignature,keyEncipherment" \
		"extendedKeyUsage=serverAuth" \
		"subjectAltName=$sans"
	echo "certs: wrote $out/ca.crt and $out/serving.crt (SANs: $sans)"
fi
if want apiserver-client; then
	issue apiserver-client "/CN=kube-apiserver-poolguard-client" \
		"basicConstraints=critical,CA:FALSE" \
		"keyUsage=critical,digitalSignature" \
		"extendedKeyUsage=clientAuth"
	echo "certs: wrote $out/apiserver-client.crt (the API server's client certificate)"
fi
