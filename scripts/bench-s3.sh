#!/usr/bin/env bash
# S3 benchmarks: 4 KiB PUT/GET rates and 64 MiB throughput with 16 clients, then the server's
# peak resident memory while one 2 GiB object streams in. Everything runs on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --bin onyxia-lite --example s3-bench
work=$(mktemp -d)
server=
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
target/release/onyxia-lite serve --data-dir "$work/data" --port 0 --s3-port 0 --vault-port 0 \
  --print-env "$work/env" >/dev/null 2>&1 &
server=$!
for _ in $(seq 100); do [ -s "$work/env" ] && break; sleep 0.1; done
set -a; . "$work/env"; set +a
target/release/examples/s3-bench

truncate -s 2G "$work/huge.bin"
BENCH_HUGE_FILE="$work/huge.bin" target/release/examples/s3-bench &
client=$!
peak=0
while kill -0 "$client" 2>/dev/null; do
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$server/status")
  [ "$rss" -gt "$peak" ] && peak=$rss
  sleep 0.1
done
wait "$client"
echo "server peak RSS while the 2 GiB object streamed in: $((peak / 1024)) MiB"
