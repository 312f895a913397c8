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
#
# The base runs poolguard with --client-ca /etc/poolguard/tls/ca.crt: POST /validate answers only
# a client that presents a certificate from that CA for client authentication. The API server
# presents one when its admission configuration says so, and that lives on the control plane, not
# in the cluster: generated/apiserver/ gets admission-configuration.yaml (for kube-apiserver
# --admission-control-config-file) and poolguard-webhook.kubeconfig (which it names, with
# CERTDIR/apiserver-client.crt and .key inline). Copy both to every control-plane node, fix the
# kubeconfig path in the first if it is not /etc/kubernetes/poolguard-webhook.kubeconfig, and
# restart the API servers before applying the overlay (README, Install).
set -eu

certdir=${1:-certs/out}
here=$(cd "$(dirname "$0")" && pwd)
out=$here/generated

die() {
	echo "make-overlay: $*" >&2
	exit 1
}

for f in ca.crt serving.crt serving.key apiserver-client.crt apiserver-client.key; do
	[ -s "$certdir/$f" ] || die "'$certdir/$f' is missing (run: sh certs/make-certs.sh $certdir)"
done
# The API server reaches the webhook as poolguard.poolguard-system.svc and checks the serving
# certificate against caBundle: refuse a pair that would fail there, before anything is applied.
openssl verify -CAfile "$certdir/ca.crt" "$certdir/serving.crt" >/dev/null 2>&1 ||
    die "'$certdir/serving.crt' is not signed by '$certdir/ca.crt'"
openssl x509 -in "$certdir/serving.crt" -noout -checkhost poolguard.poolguard-system.svc |
    grep -q 'does match' ||
    die "'$certdir/serving.crt' does not name poolguard.poolguard-system.svc"
# The client certificate must pass poolguard's own check: signed by the CA, for client auth.
openssl verify -CAfile "$certdir/ca.crt" -purpose sslclient "$certdir/apiserver-client.crt" \
    >/dev/null 2>&1 ||
    die "'$certdir/apiserver-client.crt' is not a client certificate signed by '$certdir/ca.crt'"
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
mkdir -p "$out/apiserver"
cat >"$out/apiserver/admission-configuration.yaml" <<YAML
# Written by manifests/local/make-overlay.sh: kube-apiserver
# --admission-control-config-file=/etc/kubernetes/admission-configuration.yaml (merge these
# plugins into the file if the API server has one already).
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
  - name: ValidatingAdmissionWebhook
    configuration:
      apiVersion: apiserver.config.k8s.io/v1
      kind: WebhookAdmissionConfiguration
      kubeConfigFile: /etc/kubernetes/poolguard-webhook.kubeconfig
YAML
(
	umask 077
	cat >"$out/apiserver/poolguard-webhook.kubeconfig" <<YAML
# Written by manifests/local/make-overlay.sh from $certdir: the client certificate the API
# server presents to poolguard. The user's name is the webhook's Service as the API server dials
# it (name.namespace.svc, port 443 left out).
apiVersion: v1
kind: Config
users:
  - name: poolguard.poolguard-system.svc
    user:
      client-certificate-data: $(base64 <"$certdir/apiserver-client.crt" | tr -d '\n')
      client-key-data: $(base64 <"$certdir/apiserver-client.key" | tr -d '\n')
YAML
)
echo "make-overlay: wrote $out (kubectl apply -k $out) and, for the API server, $out/apiserver/"
