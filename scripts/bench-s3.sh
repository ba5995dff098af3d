#!/usr/bin/env bash
# S3 benchmarks: 4 KiB PUT/GET rates and 64 MiB throughput with 16 clients, 4 KiB rates on a
# versioned bucket (and GETs of noncurrent versions); then, on a fresh
# server, its peak resident memory while one 2 GiB object streams in. All on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
# ONYXIA_LITE_BIN and BENCH_EXAMPLES (a directory) run other builds, e.g. to compare commits.
if [ -z "${ONYXIA_LITE_BIN:-}" ]; then
  cargo build --release --locked --bin onyxia-lite --example s3-bench
fi
bin=${ONYXIA_LITE_BIN:-target/release/onyxia-lite}
examples=${BENCH_EXAMPLES:-target/release/examples}
work=$(mktemp -d)
server=
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

start_server() {
  rm -f "$work/env"
  "$bin" serve --data-dir "$work/$1" --port 0 --s3-port 0 --vault-port 0 \
    --print-env "$work/env" >/dev/null 2>&1 &
  server=$!
  for _ in $(seq 100); do [ -s "$work/env" ] && break; sleep 0.1; done
  set -a; . "$work/env"; set +a
}

peak_rss_while() { # peak VmRSS (KiB) of the server while the command runs
  "$@" &
  local client=$! peak=0 rss
  while kill -0 "$client" 2>/dev/null; do
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$server/status")
    [ "$rss" -gt "$peak" ] && peak=$rss
    sleep 0.1
  done
  wait "$client"
  echo "$peak" > "$work/peak"
}

start_server throughput
peak_rss_while "$examples"/s3-bench
echo "server peak RSS during the rate and throughput runs: $(( $(cat "$work/peak") / 1024 )) MiB"
kill "$server"; wait "$server" 2>/dev/null || true

start_server huge
truncate -s 2G "$work/huge.bin"
BENCH_HUGE_FILE="$work/huge.bin" peak_rss_while "$examples"/s3-bench
echo "server peak RSS while a 2 GiB object streamed in: $(( $(cat "$work/peak") / 1024 )) MiB"
