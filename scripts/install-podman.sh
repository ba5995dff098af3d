#!/usr/bin/env bash
# Installs Podman and starts its Docker-compatible API, for the container-runtime tests.
# Idempotent: an engine already answering on $DOCKER_HOST (or the Podman socket) is left alone.
# Prints the DOCKER_HOST to use on its last line.
set -euo pipefail
sock=/run/podman/podman.sock
answering() { curl -fsS --max-time 2 --unix-socket "$1" http://d/_ping >/dev/null 2>&1; }
if [ -n "${DOCKER_HOST:-}" ] && [[ "$DOCKER_HOST" == unix://* ]] && answering "${DOCKER_HOST#unix://}"; then
  echo "$DOCKER_HOST"; exit 0
fi
if answering "$sock"; then echo "unix://$sock"; exit 0; fi
if ! command -v podman >/dev/null 2>&1 || ! command -v busybox >/dev/null 2>&1 || ! command -v curl >/dev/null 2>&1; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc busybox-static curl >&2
fi
# No ulimit overrides (the sandbox refuses them) and runc rather than crun.
mkdir -p /etc/containers
if [ ! -f /etc/containers/containers.conf ] || ! grep -q 'runtime = "runc"' /etc/containers/containers.conf; then
  printf '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n' > /etc/containers/containers.conf
fi
mkdir -p /run/podman
nohup podman system service --time=0 "unix://$sock" >/tmp/podman-service.log 2>&1 &
for _ in $(seq 1 100); do
  if answering "$sock"; then echo "unix://$sock"; exit 0; fi
  sleep 0.1
done
echo "podman's API did not come up on $sock; see /tmp/podman-service.log" >&2
exit 1
