#!/usr/bin/env bash
# Installs what the test suite needs beyond the Rust toolchain. Idempotent.
# The suite drives real clients: Python ones (authlib, boto3, hvac, Testcontainers) need python3
# and pip; the web UI's end-to-end tests need Node.js, playwright-core (tests/browser) and
# Debian's Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v kill >/dev/null 2>&1 || need+=(procps)
command -v python3 >/dev/null 2>&1 || need+=(python3 python3-pip)
command -v node >/dev/null 2>&1 || need+=(nodejs)
# strace shows the key-file durability test which system calls a first start makes.
command -v strace >/dev/null 2>&1 || need+=(strace)
command -v npm >/dev/null 2>&1 || need+=(npm)
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || need+=(chromium)
if [ "${#need[@]}" -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq "${need[@]}"
fi
if ! python3 - <<'PY' 2>/dev/null
import authlib, boto3, hvac, pytest, requests, testcontainers
PY
then
  pip=(python3 -m pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt)
  # Debian's own python3 refuses pip installs unless told otherwise (PEP 668).
  PIP_ROOT_USER_ACTION=ignore "${pip[@]}" || PIP_ROOT_USER_ACTION=ignore "${pip[@]}" --break-system-packages
fi

# playwright-core only drives a browser; it never downloads one (Chromium comes from Debian).
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  echo "installing playwright-core for the browser tests"
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi
