#!/usr/bin/env bash
# Creates a Kind cluster (on a machine with Docker or Podman and a registry to pull Kind's
# node image from), loads the test image into it, and runs the Kubernetes runtime's
# real-cluster test against it. Usage: scripts/kind-up.sh [cluster-name]
set -euo pipefail
cd "$(dirname "$0")/.."

name="${1:-onyxia-lite}"
command -v kind >/dev/null || { echo "kind is not installed: https://kind.sigs.k8s.io/docs/user/quick-start/#installation" >&2; exit 1; }
kubeconfig="$(pwd)/target/kind-$name.kubeconfig"
mkdir -p target

if ! kind get clusters 2>/dev/null | grep -qx "$name"; then
  echo "--- creating the Kind cluster $name"
  kind create cluster --name "$name" --kubeconfig "$kubeconfig" --wait 120s
else
  kind get kubeconfig --name "$name" >"$kubeconfig"
fi

echo "--- the test image"
scripts/build-test-image.sh
image="localhost/onyxia-lite-test:1"
archive="$(mktemp --suffix=.tar)"
trap 'rm -f "$archive"' EXIT
if command -v docker >/dev/null && docker image inspect "$image" >/dev/null 2>&1; then
  docker save "$image" -o "$archive"
else
  podman save --format docker-archive "$image" -o "$archive"
fi
kind load image-archive "$archive" --name "$name"

# Pods reach the platform at the gateway of the engine's `kind` network; onyxia-lite finds it
# itself for contexts named kind-*, and the test is told explicitly for other setups.
gateway="$( (docker network inspect kind 2>/dev/null || podman network inspect kind) \
  | grep -oE '"Gateway": *"[0-9.]+"' | head -n1 | grep -oE '[0-9.]+' || true)"
echo "--- the real-cluster test (kubeconfig $kubeconfig, platform host ${gateway:-unknown})"
ONYXIA_LITE_TEST_KUBECONFIG="$kubeconfig" ONYXIA_LITE_TEST_PLATFORM_HOST="$gateway" \
  cargo test --locked --test it tiny_service_lifecycle_on_a_real_cluster -- --include-ignored
echo "kubeconfig: $kubeconfig (delete the cluster with: kind delete cluster --name $name)"
