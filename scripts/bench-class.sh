#!/usr/bin/env bash
# The classroom simulation: see examples/class-bench.rs. `--runtime podman` (the default: needs
# Podman and the test image, which this script builds) or `--runtime kube` (the in-process fake).
set -euo pipefail
cd "$(dirname "$0")/.."
runtime=podman
if [ "${1:-}" = "--runtime" ]; then runtime=${2:?--runtime podman|kube}; fi
if [ "$runtime" = podman ]; then
  bash scripts/build-test-image.sh >/dev/null
fi
cargo run --release --locked --quiet --example class-bench -- --runtime "$runtime"
