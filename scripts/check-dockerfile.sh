#!/usr/bin/env bash
# Builds the Dockerfile start to end with Podman on a machine that cannot pull its base image,
# then checks that the image answers its HEALTHCHECK and `onyxia-lite env`. The base is a
# stand-in for the Rust image made of this machine's own Debian and Rust toolchain: an almost
# empty image whose /usr and toolchain are mounted into the build's RUN steps (not copied).
# It takes as long as a release build from scratch (about 10 minutes on 2 cores). Not part of
# the test command: the Dockerfile's last stage is tested there through build-image.sh --local.
set -euo pipefail
cd "$(dirname "$0")/.."
base=localhost/rust:1.95-slim-bookworm
tag=localhost/onyxia-lite:dockerfile-check
rustup_home=${RUSTUP_HOME:-$HOME/.rustup}
cargo_home=${CARGO_HOME:-$HOME/.cargo}
work=$(mktemp -d)
name=onyxia-lite-dockerfile-check-$$
trap 'podman rm -f "$name" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

if ! podman image exists "$base"; then
  echo "making the stand-in base image $base" >&2
  root=$work/root
  mkdir -p "$root"/{usr,etc,tmp,root,dev,proc,sys,var/tmp}
  for link in bin lib lib64 sbin; do ln -s "usr/$link" "$root/$link"; done
  chmod 1777 "$root/tmp"
  cp -a /etc/. "$root/etc/"
  tar -C "$root" -cf "$work/base.tar" .
  podman import \
    --change "ENV PATH=$cargo_home/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV CARGO_HOME=$cargo_home" --change "ENV RUSTUP_HOME=$rustup_home" \
    "$work/base.tar" "$base" >/dev/null
fi

podman build --pull=never --format docker --skip-unused-stages=false \
  -v /usr:/usr:ro -v "$rustup_home:$rustup_home:ro" -v "$cargo_home:$cargo_home" \
  --tag "$tag" .
podman run -d --name "$name" "$tag" >/dev/null
for _ in $(seq 100); do
  podman healthcheck run "$name" >/dev/null 2>&1 && break
  sleep 0.2
done
podman healthcheck run "$name" >/dev/null 2>&1 || { podman logs "$name" >&2; exit 1; }
podman exec "$name" onyxia-lite env | grep -q '^ONYXIA_URL=http://localhost:8080$'
podman image inspect --format '{{.Size}}' "$tag" \
  | awk '{ printf "the Dockerfile builds and its image is healthy (%.1f MB)\n", $1 / 1e6 }'
