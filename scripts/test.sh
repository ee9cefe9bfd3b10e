#!/usr/bin/env bash
# The whole test suite, in two stages:
#   1. fast: formatting, lints, unit and integration tests (SQLite and the real PostgreSQL at
#      CASCADE_TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test), then the
#      end-to-end run of `cascade demo` driven by the real `openstack` CLI, then OpenStack's
#      own API tests (Tempest, pinned) against `cascade demo` (tests/tempest/run.sh);
#   2. real: the real-OpenStack tier (scripts/real-openstack/tier.sh): installs (cached) and
#      starts two real regions, smoke-tests them, runs the contract suite against a real and a
#      simulated region, and runs Cascade end to end in front of both real regions.
# CASCADE_REAL_TIER=skip leaves out stage 2 on a developer's machine (it says so loudly); with
# CI=true it cannot be skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
export CASCADE_TEST_POSTGRES_URL="${CASCADE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
T0=$(date +%s)

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
echo "== unit and integration tests"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast
else
    cargo test --workspace --locked --no-fail-fast
fi
echo "== end-to-end: cascade demo + openstack CLI"
cargo build --locked -p cascade
tests/e2e/cli.sh
echo "== OpenStack's API tests: Tempest against cascade demo (tests/tempest/run.sh)"
tests/tempest/run.sh
echo "== fast stage done in $(($(date +%s) - T0))s"

if [ "${CASCADE_REAL_TIER:-run}" = skip ]; then
    if [ "${CI:-}" = true ]; then
        echo "CASCADE_REAL_TIER=skip is not allowed when CI=true: the real-OpenStack tier is part of CI"
        exit 1
    fi
    echo "!! CASCADE_REAL_TIER=skip: the real-OpenStack tier was NOT run (scripts/real-openstack/tier.sh)"
    exit 0
fi
echo "== real-OpenStack tier: scripts/real-openstack/tier.sh"
T1=$(date +%s)
scripts/real-openstack/tier.sh
echo "== real-OpenStack tier done in $(($(date +%s) - T1))s; all stages in $(($(date +%s) - T0))s"
