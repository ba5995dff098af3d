#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests and the integration-test binary.
# Under CI=true nothing is skipped: prerequisites the suite needs are installed first.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${CI:-}" = "true" ]; then
  scripts/install-test-deps.sh
fi

echo "--- cargo fmt --check"
cargo fmt --check
echo "--- cargo clippy"
cargo clippy --locked --all-targets -- -D warnings
echo "--- cargo test"
cargo test --locked
