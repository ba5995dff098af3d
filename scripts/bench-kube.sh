#!/usr/bin/env bash
# Kubernetes runtime benchmark against the tests' fake API server: see examples/kube-bench.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --locked --quiet --example kube-bench "$@"
