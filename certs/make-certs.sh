#!/bin/sh
# Makes a development CA and a serving certificate for poolguard with the openssl command line.
#
#   sh certs/make-certs.sh [OUTDIR]      (default certs/out)
#
# Writes OUTDIR/ca.crt, ca.key, serving.crt, serving.key. The serving certificate carries the
# names the webhook is reached by: localhost and 127.0.0.1 for local runs and tests, the
# in-cluster Service names for a cluster. Existing files are kept; FORCE=1 issues a new serving
# certificate from the existing CA (a rotation), FORCE_CA=1 makes a new CA as well.
# Extra names: EXTRA_SANS="DNS:foo.example,IP:10.0.0.1". Days valid: DAYS (default 365).
set -eu

out=${1:-certs/out}
days=${DAYS:-365}
sans="DNS:localhost,IP:127.0.0.1,IP:::1,DNS:poolguard,DNS:poolguard.poolguard-system"
sans="$sans,DNS:poolguard.poolguard-system.svc,DNS:poolguard.poolguard-system.svc.cluster.local"
[ -n "${EXTRA_SANS:-}" ] && sans="$sans,$EXTRA_SANS"

if [ -s "$out/serving.crt" ] && [ -s "$out/serving.key" ] && [ "${FORCE:-0}" != 1 ]; then
	echo "certs: $out/serving.crt exists (FORCE=1 to replace)"
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
fi

# The new key and certificate are written beside the old ones and renamed into place, so a
# running server never reads a key that does not match its certificate for long.
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	-keyout "$out/serving.key.new" -out "$out/serving.csr" \
	-subj "/CN=poolguard.poolguard-system.svc" 2>/dev/null

cat > "$out/serving.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=$sans
EXT

openssl x509 -req -in "$out/serving.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" \
	-CAcreateserial -out "$out/serving.crt.new" -days "$days" -extfile "$out/serving.ext" 2>/dev/null

mv "$out/serving.key.new" "$out/serving.key"
mv "$out/serving.crt.new" "$out/serving.crt"
rm -f "$out/serving.csr" "$out/serving.ext" "$out/ca.srl"
chmod 644 "$out/ca.crt" "$out/serving.crt"
echo "certs: wrote $out/ca.crt and $out/serving.crt (SANs: $sans)"
