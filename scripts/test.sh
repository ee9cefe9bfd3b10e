#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests (SQLite and the real
# PostgreSQL at CASCADE_TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test),
# then the end-to-end run of `cascade demo` driven by the real `openstack` CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
export CASCADE_TEST_POSTGRES_URL="${CASCADE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"

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
