#!/usr/bin/env bash
# Launch and listing benchmark on a real engine (Podman's API by default): see examples/lab-bench.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
DOCKER_HOST=$(scripts/install-podman.sh | tail -n 1)
export DOCKER_HOST
scripts/build-test-image.sh >/dev/null
cargo run --release --locked --quiet --example lab-bench "$@"
