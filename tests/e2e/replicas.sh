# Sourced by tests/e2e/run.sh: poolguard as two replicas behind a load balancer.
# shellcheck shell=bash
replica_scenarios=""
