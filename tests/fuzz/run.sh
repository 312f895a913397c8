#!/bin/sh
# Runs the libFuzzer targets built by fuzz.mk and sums them into one closing line,
# "N passed, N failed", as tests/run.sh does for the unit tests.
#
#   run.sh run SECONDS OUTDIR NAME...    fuzz each for SECONDS from a copy of its seeds
#   run.sh regress 0 OUTDIR NAME...      replay tests/fuzz/regressions/NAME-* once each
#
# A fuzzer passes when it exits 0: no crash, leak, undefined behaviour, timeout
# (FUZZ_TIMEOUT s per input) or memory blow-up (FUZZ_RSS_LIMIT_MB). Its output
# goes to OUTDIR/NAME.log and is shown when it fails; what it found is kept in
# OUTDIR/artifacts-NAME/. Exit status: 0 when nothing failed.
set -u
mode=$1
seconds=$2
out=$3
shift 3
dir=$(dirname "$0")
max_len=${FUZZ_MAX_LEN:-65536}
timeout=${FUZZ_TIMEOUT:-10}
rss=${FUZZ_RSS_LIMIT_MB:-2048}
passed=0
failed=0

# The dictionary of a fuzzer: manifests are YAML.
dict_of() {
	case $1 in
	manifest) echo "$dir/yaml.dict" ;;
	*) echo "$dir/$1.dict" ;;
	esac
}

for name in "$@"; do
	bin="$out/fuzz_$name"
	log="$out/$name.log"
	artifacts="$out/artifacts-$name/"
	mkdir -p "$artifacts"
	if [ "$mode" = regress ]; then
		set -- "$dir"/regressions/"$name"-*
		if [ ! -e "$1" ]; then
			echo "ok   fuzz_$name (no regressions)"
			passed=$((passed + 1))
			continue
		fi
		"$bin" -timeout="$timeout" -rss_limit_mb="$rss" -artifact_prefix="$artifacts" \
			"$@" >"$log" 2>&1
		status=$?
		detail="$# inputs"
	else
		corpus="$out/corpus-$name"
		mkdir -p "$corpus"
		if [ -d "$dir/corpus/$name" ]; then cp -f "$dir/corpus/$name"/* "$corpus"/; fi
		# shellcheck disable=SC2086 # FUZZ_ARGS is split into options on purpose
		"$bin" -max_total_time="$seconds" -max_len="$max_len" -timeout="$timeout" \
			-rss_limit_mb="$rss" -dict="$(dict_of "$name")" -artifact_prefix="$artifacts" \
			-print_final_stats=1 ${FUZZ_ARGS:-} "$corpus" >"$log" 2>&1
		status=$?
		# The last status line: "#N DONE cov: C ft: F corp: U/S ... exec/s: E rss: R".
		stats=$(grep -E '^#[0-9]+' "$log" | tail -n 1 |
			sed -n 's/.*\(cov: [0-9]*\).*\(ft: [0-9]*\).*\(corp: [0-9]*\).*\(exec\/s: [0-9]*\).*/\1 \2 \3 \4/p')
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
		detail="${seconds}s, ${runs:-?} runs, ${stats:-no stats}"
	fi
	if [ "$status" -eq 0 ]; then
		echo "ok   fuzz_$name ($detail)"
		passed=$((passed + 1))
	else
		echo "FAIL fuzz_$name (exit $status, log $log):"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error:|artifact_prefix|Test unit written)' \
			"$log" | sed 's/^/    /' | head -n 20
		grep -E '^ +#[0-9]+ ' "$log" | head -n 15 | sed 's/^/    /'
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
