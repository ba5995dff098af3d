#!/usr/bin/env bash
# Installs what the test suite needs beyond the Rust toolchain. Idempotent.
# Today the suite needs only the toolchain and `kill` (procps); later parts add Podman and
# Chromium here, so CI installs them rather than skipping their tests.
set -euo pipefail
need=()
command -v kill >/dev/null 2>&1 || need+=(procps)
if [ "${#need[@]}" -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq "${need[@]}"
fi
