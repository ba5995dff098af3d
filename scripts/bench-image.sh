#!/usr/bin/env bash
# The image's figures: its size (as pushed: gzip-compressed), the time from `run` to the first
# answer of /healthz and to the first passing HEALTHCHECK (on an empty volume, then on the same
# volume again), the clean-stop time, and the platform's RSS inside the container once idle.
# Builds the image with scripts/build-image.sh --local from the release binary (ONYXIA_LITE_BIN
# takes another build). Needs Podman (ONYXIA_LITE_IMAGE_ENGINE=docker for Docker). RUNS=5.
set -euo pipefail
cd "$(dirname "$0")/.."
engine=${ONYXIA_LITE_IMAGE_ENGINE:-podman}
runs=${RUNS:-5}
image=localhost/onyxia-lite-bench:latest
build=(scripts/build-image.sh --local --tag "$image")
if [ -n "${ONYXIA_LITE_BIN:-}" ]; then build+=(--binary "$ONYXIA_LITE_BIN"); fi
ONYXIA_LITE_IMAGE_ENGINE=$engine "${build[@]}" >/dev/null
name=onyxia-lite-bench-$$
volume=onyxia-lite-bench-$$
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() {
  "$engine" rm -f "$name" >/dev/null 2>&1 || true
  "$engine" volume rm -f "$volume" >/dev/null 2>&1 || true
}
trap cleanup EXIT

bytes=$("$engine" image inspect --format '{{.Size}}' "$image")
compressed=$("$engine" save "$image" 2>/dev/null | gzip -6 | wc -c)
binary=$("$engine" run --rm --entrypoint /usr/local/bin/onyxia-lite "$image" --version)
echo "$binary"
awk -v b="$bytes" -v c="$compressed" \
  'BEGIN { printf "image: %.1f MB uncompressed, %.1f MB gzip-compressed\n", b/1e6, c/1e6 }'

now_ms() { date +%s%3N; }
# Podman without systemd says on every run that it cannot schedule the HEALTHCHECK's timer
# (the script runs the check itself); everything else it says is shown.
quiet() { "$@" 2> >(grep -v 'systemd connection' >&2); }
# One start: prints "ms to /healthz, ms to a passing HEALTHCHECK".
start_once() {
  local t0 t_http t_check
  t0=$(now_ms)
  quiet "$engine" run -d --read-only --name "$name" -v "$volume:/data" -p "127.0.0.1:$port:8080" \
    -e ONYXIA_LITE_PUBLIC_URL="http://localhost:$port" "$image" >/dev/null
  until curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null; do sleep 0.005; done
  t_http=$(now_ms)
  until "$engine" healthcheck run "$name" >/dev/null 2>&1; do sleep 0.05; done
  t_check=$(now_ms)
  echo "$((t_http - t0)) $((t_check - t0))"
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

fresh=() again=() stops=()
for _ in $(seq "$runs"); do
  "$engine" volume rm -f "$volume" >/dev/null 2>&1 || true
  fresh+=("$(start_once)")
  t0=$(now_ms); quiet "$engine" stop --time 20 "$name" >/dev/null; stops+=($(( $(now_ms) - t0 )))
  quiet "$engine" rm "$name" >/dev/null
  again+=("$(start_once)")
  if [ "${#again[@]}" -lt "$runs" ]; then quiet "$engine" rm -f "$name" >/dev/null; fi
done
for kind in fresh again; do
  declare -n times=$kind
  http=$(printf '%s\n' "${times[@]}" | cut -d' ' -f1 | median)
  check=$(printf '%s\n' "${times[@]}" | cut -d' ' -f2 | median)
  label=$([ "$kind" = fresh ] && echo "empty volume" || echo "existing volume")
  echo "run -> /healthz answers: ${http} ms, -> HEALTHCHECK passes: ${check} ms (median of $runs, $label)"
done
echo "stop (SIGTERM -> exited): $(printf '%s\n' "${stops[@]}" | median) ms (median of $runs)"

# The last container has just started on an existing volume: let it settle, then read its RSS.
sleep 5
pid=$("$engine" inspect --format '{{.State.Pid}}' "$name")
awk '/VmRSS/ { printf "idle RSS in the container: %.1f MiB\n", $2 / 1024 }' "/proc/$pid/status"
