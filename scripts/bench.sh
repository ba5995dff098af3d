#!/usr/bin/env bash
# Builds the release binary and runs the benchmarks in scripts/bench.py.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }
# ONYXIA_LITE_BIN runs another build, e.g. to compare commits.
if [ -z "${ONYXIA_LITE_BIN:-}" ]; then
  cargo build --release --locked
fi
exec python3 scripts/bench.py "$@"
