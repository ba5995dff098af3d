#!/usr/bin/env bash
# Builds the local image the `tiny` test package runs: examples/test-service plus the shared
# libraries it links, on a busybox root (no registry is needed). Prints the image name.
set -euo pipefail
cd "$(dirname "$0")/.."
image=localhost/onyxia-lite-test:1
cargo build --locked --quiet --example test-service
binary=${CARGO_TARGET_DIR:-target}/debug/examples/test-service
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/data" "$root/tmp" "$root/etc"
cp "$(command -v busybox)" "$root/bin/busybox"
for tool in sh ls cat env wget; do ln -s busybox "$root/bin/$tool"; done
cp "$binary" "$root/test-service"
# The binary is dynamically linked against the host's glibc: bring those libraries along.
ldd "$binary" | grep -o '/[^ ]*' | while read -r lib; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
echo 'root:x:0:0:root:/:/bin/sh' > "$root/etc/passwd"
# Re-import only when the content changed, and drop the image this one replaces, so that
# repeated test runs do not pile up untagged copies.
digest=$(cd "$root" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64)
label='{{index .Config.Labels "onyxia-lite-test.content"}}'
if [ "$(podman image inspect --format "$label" "$image" 2>/dev/null)" = "$digest" ]; then
  echo "$image"
  exit 0
fi
previous=$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
tar -C "$root" -cf "$root.tar" .
podman import --change 'CMD ["/test-service"]' --change 'ENV PATH=/bin' \
  --change "LABEL onyxia-lite-test.content=$digest" "$root.tar" "$image" >/dev/null
rm -f "$root.tar"
# rmi refuses while a container (a service left running) still uses it: then it stays.
if [ -n "$previous" ]; then podman rmi "$previous" >/dev/null 2>&1 || true; fi
echo "$image"
