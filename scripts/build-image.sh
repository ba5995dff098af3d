#!/usr/bin/env bash
# Builds the onyxia-lite container image and prints its name.
#
#   scripts/build-image.sh [--tag NAME]                    the Dockerfile, start to end
#   scripts/build-image.sh --local [--binary FILE] [--tag NAME]
#
# The first needs the Dockerfile's base images. --local needs none: it takes a binary built on
# this machine (the release build by default; any glibc-linked onyxia-lite works), lays it out
# with scripts/image-root.sh exactly as the Dockerfile's build stage does, and builds the
# Dockerfile's last stage on that. Docker is used when its engine answers, else Podman;
# ONYXIA_LITE_IMAGE_ENGINE=docker|podman chooses. Build output goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
tag=localhost/onyxia-lite:latest
local=false
binary=
while [ $# -gt 0 ]; do
  case $1 in
    --tag) tag=$2; shift 2 ;;
    --local) local=true; shift ;;
    --binary) binary=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "$0: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -n "$binary" ] && [ "$local" = false ]; then
  echo "$0: --binary goes with --local" >&2
  exit 2
fi

engine=${ONYXIA_LITE_IMAGE_ENGINE:-}
if [ -z "$engine" ]; then
  if docker info >/dev/null 2>&1; then engine=docker
  elif command -v podman >/dev/null; then engine=podman
  else echo "$0: neither a Docker engine nor Podman is available" >&2; exit 1
  fi
fi
# HEALTHCHECK is part of Docker's image format only; Podman writes OCI images by default.
format=()
if [ "$engine" = podman ]; then format=(--format docker); fi

if [ "$local" = false ]; then
  # Podman 4 decides which stages are used before it expands ARGs, and would skip the build
  # stage that ROOTFS_FROM names by default.
  skip=()
  if [ "$engine" = podman ]; then skip=(--skip-unused-stages=false); fi
  "$engine" build "${format[@]}" "${skip[@]}" --tag "$tag" . >&2
  echo "$tag"
  exit 0
fi

if [ -z "$binary" ]; then
  echo "building the release binary" >&2
  cargo build --release --locked --bin onyxia-lite >&2
  binary=${CARGO_TARGET_DIR:-target}/release/onyxia-lite
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
scripts/image-root.sh "$binary" "$work/rootfs"
# The same content builds the same image: skip the build when the tag already has it.
digest=$( { (cd "$work" && find rootfs -print0 | sort -z | xargs -0 stat -c '%n %a %s' \
  && find rootfs -type f -print0 | sort -z | xargs -0 sha256sum); cat Dockerfile; } \
  | sha256sum | cut -c1-64)
label='{{index .Config.Labels "onyxia-lite.image-content"}}'
if [ "$("$engine" image inspect --format "$label" "$tag" 2>/dev/null)" = "$digest" ]; then
  echo "$tag"
  exit 0
fi
previous=$("$engine" image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
rootfs_image=localhost/onyxia-lite-rootfs:$digest
tar -C "$work" -cf "$work/rootfs.tar" rootfs
"$engine" import "$work/rootfs.tar" "$rootfs_image" >/dev/null
mkdir "$work/context"
# Podman keeps an image per instruction unless told not to; only the result is wanted here.
if [ "$engine" = podman ]; then format+=(--layers=false); fi
"$engine" build "${format[@]}" --file "$PWD/Dockerfile" --build-arg "ROOTFS_FROM=$rootfs_image" \
  --label "onyxia-lite.image-content=$digest" --tag "$tag" "$work/context" >&2
"$engine" rmi "$rootfs_image" >/dev/null 2>&1 || true
# A container still using the replaced image keeps it; otherwise it goes.
if [ -n "$previous" ]; then "$engine" rmi "$previous" >/dev/null 2>&1 || true; fi
echo "$tag"
