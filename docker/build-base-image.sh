#!/usr/bin/env bash
# Build a Debian base image without a registry: debootstrap a minimal bookworm root
# filesystem and import it into Docker. Idempotent: does nothing if the image exists.
set -euo pipefail
IMAGE="${1:-nil-base:bookworm}"
# The Debian mirror this machine's apt already uses (or DEBIAN_MIRROR).
apt_mirror() {
  # missing files and an early `head` are fine here: only the first match matters
  { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
      2>/dev/null || true; } | grep -E '^(deb|URIs:)' \
    | grep -oE 'https?://[^[:space:]]+/debian/?' | head -n 1 || true
}
MIRROR="${DEBIAN_MIRROR:-$(apt_mirror)}"
[ -n "$MIRROR" ] || { echo "no Debian mirror configured for apt; set DEBIAN_MIRROR" >&2; exit 1; }

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "base image $IMAGE already present"
  exit 0
fi
command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap; }
ROOTFS="$(mktemp -d)"
chmod 755 "$ROOTFS"  # the image root must be traversable by non-root users
trap 'rm -rf "$ROOTFS"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
  bookworm "$ROOTFS" "$MIRROR" >/dev/null
cp /etc/ssl/certs/ca-certificates.crt "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
tar -C "$ROOTFS" -c . | docker import - "$IMAGE" >/dev/null
echo "built base image $IMAGE"
