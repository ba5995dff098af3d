#!/usr/bin/env bash
# Builds the release binary and runs the benchmarks in scripts/bench.py.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release --locked
exec python3 scripts/bench.py
