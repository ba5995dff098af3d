#!/usr/bin/env bash
# The one list of what the onyxia-lite image contains. The Dockerfile's build stage runs it on
# the binary it compiled; scripts/build-image.sh --local runs it on a binary built here. Both then
# copy the result into an empty image, so the two images cannot differ in content.
#
#   scripts/image-root.sh BINARY OUT
#
# OUT/system is copied into the image as root's: the binary (debug info stripped) at /usr/local/bin/onyxia-lite, the shared
# libraries it links (glibc's loader included: the image has no distribution underneath), the
# CA bundle for HTTPS to Kubernetes API servers and external issuers, an unprivileged user
# (10001) whose home is the data volume, and a world-writable /tmp. OUT/owned is copied as the
# user's: /data, the volume's mount point (an image's empty directory becomes the user's only
# when it is copied as an item of its parent).
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 BINARY OUT" >&2
  exit 2
fi
binary=$1
root=$2/system
owned=$2/owned
uid=10001
for tool in ldd strip; do
  command -v "$tool" >/dev/null || { echo "$0: $tool is needed (libc-bin, binutils)" >&2; exit 1; }
done
ca_bundle=/etc/ssl/certs/ca-certificates.crt
[ -f "$ca_bundle" ] || { echo "$0: $ca_bundle is missing (ca-certificates)" >&2; exit 1; }

mkdir -p "$root/usr/local/bin" "$root/etc/ssl/certs" "$root/tmp" "$owned/data"
strip --strip-debug -o "$root/usr/local/bin/onyxia-lite" "$binary"
ldd "$binary" | grep -o '/[^ ]*' | sort -u | while read -r lib; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
cp "$ca_bundle" "$root$ca_bundle"
cat > "$root/etc/passwd" <<PASSWD
root:x:0:0:root:/root:/sbin/nologin
onyxia:x:$uid:$uid:onyxia-lite:/data:/sbin/nologin
PASSWD
cat > "$root/etc/group" <<GROUP
root:x:0:
onyxia:x:$uid:
GROUP
echo 'hosts: files dns' > "$root/etc/nsswitch.conf"
chmod 0755 "$owned/data"
chmod 1777 "$root/tmp"
