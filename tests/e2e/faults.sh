# Sourced by tests/e2e/run.sh: faults of the API server under a running poolguard.
# shellcheck shell=bash
fault_scenarios=""
