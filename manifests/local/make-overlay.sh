#!/bin/sh
# Writes the kustomize overlay that installs poolguard with the certificates of
# certs/make-certs.sh, without make:
#
#   sh certs/make-certs.sh certs/out
#   sh manifests/local/make-overlay.sh certs/out      (CERTDIR, default certs/out)
#   kubectl apply -k manifests/local/generated
#
# manifests/local/generated/ (git-ignored; replaced on every run) gets tls.crt and tls.key (copies
# of CERTDIR/serving.crt and serving.key), ca.crt, and a kustomization.yaml that takes the base
# (../../base), generates the Secret poolguard-tls (type kubernetes.io/tls, no name suffix, so the
# Deployment's reference holds) and sets the webhook's caBundle to CERTDIR/ca.crt in base64.
# Run it again after new certificates (FORCE=1 sh certs/make-certs.sh ...) and apply again:
# poolguard reloads the certificate when the mounted Secret changes.
set -eu

certdir=${1:-certs/out}
here=$(cd "$(dirname "$0")" && pwd)
out=$here/generated

die() {
	echo "make-overlay: $*" >&2
	exit 1
}

for f in ca.crt serving.crt serving.key; do
	[ -s "$certdir/$f" ] || die "'$certdir/$f' is missing (run: sh certs/make-certs.sh $certdir)"
done
# The API server reaches the webhook as poolguard.poolguard-system.svc and checks the serving
# certificate against caBundle: refuse a pair that would fail there, before anything is applied.
openssl verify -CAfile "$certdir/ca.crt" "$certdir/serving.crt" >/dev/null 2>&1 ||
    die "'$certdir/serving.crt' is not signed by '$certdir/ca.crt'"
openssl x509 -in "$certdir/serving.crt" -noout -checkhost poolguard.poolguard-system.svc |
    grep -q 'does match' ||
    die "'$certdir/serving.crt' does not name poolguard.poolguard-system.svc"
ca_bundle=$(base64 <"$certdir/ca.crt" | tr -d '\n')

rm -rf "$out"
mkdir -p "$out"
(
	umask 077
	cp "$certdir/serving.key" "$out/tls.key"
)
cp "$certdir/serving.crt" "$out/tls.crt"
cp "$certdir/ca.crt" "$out/ca.crt"

cat >"$out/kustomization.yaml" <<YAML
# Written by manifests/local/make-overlay.sh from $certdir: run it again rather than edit this.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: poolguard-system
resources:
  - ../../base
secretGenerator:
  - name: poolguard-tls
    type: kubernetes.io/tls
    files:
      - tls.crt
      - tls.key
      - ca.crt
    options:
      disableNameSuffixHash: true
patches:
  - target:
      group: admissionregistration.k8s.io
      version: v1
      kind: ValidatingWebhookConfiguration
      name: poolguard
    patch: |-
      - op: replace
        path: /webhooks/0/clientConfig/caBundle
        value: $ca_bundle
YAML
echo "make-overlay: wrote $out (kubectl apply -k $out)"
