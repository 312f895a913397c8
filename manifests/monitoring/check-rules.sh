#!/bin/sh
# Checks the alerting rules with promtool (Debian: apt-get install prometheus):
#
#   sh manifests/monitoring/check-rules.sh
#
# promtool reads plain rule files, not a PrometheusRule, so this takes the body of spec: (the
# last top-level key of prometheusrule.yaml, indented two spaces) out as one, runs
# `promtool check rules` on it, then `promtool test rules` on rules-test.yaml against it.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

sed -n '/^spec:$/,$p' "$here/prometheusrule.yaml" | tail -n +2 >"$tmp/spec"
[ -s "$tmp/spec" ] || { echo "check-rules: no spec: in prometheusrule.yaml" >&2; exit 1; }
if grep -q '^[^ ]' "$tmp/spec"; then
	echo "check-rules: spec: must be the last top-level key of prometheusrule.yaml" >&2
	exit 1
fi
sed 's/^  //' "$tmp/spec" >"$tmp/rules.yaml"
cp "$here/rules-test.yaml" "$tmp/rules-test.yaml"
promtool check rules "$tmp/rules.yaml"
promtool test rules "$tmp/rules-test.yaml"
