#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests and the integration-test binary.
# Nothing is skipped: the clients the suite drives (Python packages today) are installed
# first when missing, so a fresh machine and CI run the same tests.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh

echo "--- cargo fmt --check"
cargo fmt --check
echo "--- cargo clippy"
cargo clippy --locked --all-targets -- -D warnings
echo "--- cargo test"
cargo test --locked
