#!/usr/bin/env bash
# Memory under load: idle RSS after start, peak RSS while 200 clients mix token grants, STS,
# S3 and Vault for 60 s (examples/load-mix.rs), and RSS once the load stops (after 30 s).
# Default argon2 settings (19 MiB per check). All on 127.0.0.1. CLIENTS and SECONDS override.
set -euo pipefail
cd "$(dirname "$0")/.."
# ONYXIA_LITE_BIN and BENCH_EXAMPLES (a directory) run other builds, e.g. to compare commits.
if [ -z "${ONYXIA_LITE_BIN:-}" ]; then
  cargo build --release --locked --bin onyxia-lite --example load-mix
fi
bin=${ONYXIA_LITE_BIN:-target/release/onyxia-lite}
examples=${BENCH_EXAMPLES:-target/release/examples}
work=$(mktemp -d)
server=
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

"$bin" serve --data-dir "$work/data" --port 0 --s3-port 0 --vault-port 0 \
  --print-env "$work/env" >/dev/null 2>&1 &
server=$!
for _ in $(seq 100); do [ -s "$work/env" ] && break; sleep 0.1; done
set -a; . "$work/env"; set +a
rss() { awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$server/status"; }
sleep 3
echo "idle RSS after start: $(rss) MiB"

"$examples"/load-mix &
client=$!
peak=0
while kill -0 "$client" 2>/dev/null; do
  now=$(rss); [ "$now" -gt "$peak" ] && peak=$now
  sleep 0.2
done
wait "$client"
echo "peak RSS under the mix: $peak MiB"
sleep 30
echo "idle RSS 30 s after the mix: $(rss) MiB"
