#!/usr/bin/env bash
# Stand-in for the official python:3.11-slim-bookworm image, built locally with debootstrap because
# no container registry is reachable from this machine. Reused when it already exists.
#
# Differences from the official image that matter (see README "Deploying"):
# - Python is Debian's 3.11 in /usr/bin (symlinked into /usr/local/bin), not a source build in
#   /usr/local; venvs made from it carry Debian's pip and setuptools.
# - TLS trusts Debian's system CA bundle (ca-certificates), as the official image does.
set -euo pipefail

IMAGE=${PYTHON_IMAGE:-docker.io/library/python:3.11-slim-bookworm}
SUITE=bookworm

if [ "${REBUILD_BASE:-0}" != 1 ] && podman image exists "$IMAGE"; then
  echo "base: $IMAGE already present, reused"
  exit 0
fi

# The Debian mirror apt already uses here (deb822 sources first, then the one-line format).
mirror() {
  local uri
  uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' \
        | grep -v -- '-security' | head -n1 || true)
  if [ -z "$uri" ]; then
    uri=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
          | grep -v -- '-security' | awk '{print $2}' | head -n1 || true)
  fi
  [ -n "$uri" ] || { echo "base: no Debian mirror found in the apt sources" >&2; exit 1; }
  echo "$uri"
}

MIRROR=$(mirror)
ROOTFS=$(mktemp -d /var/tmp/tabserve-base.XXXXXX)
trap 'umount -R "$ROOTFS/proc" 2>/dev/null || true; rm -rf --one-file-system "$ROOTFS"' EXIT

echo "base: debootstrap $SUITE from $MIRROR"
debootstrap --variant=minbase "$SUITE" "$ROOTFS" "$MIRROR" >/dev/null

mount -t proc proc "$ROOTFS/proc"
chroot "$ROOTFS" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  python3 python3-venv python3-pip python-is-python3 ca-certificates netbase tzdata >/dev/null
chroot "$ROOTFS" apt-get clean
umount "$ROOTFS/proc"
rm -rf "$ROOTFS"/var/lib/apt/lists/*
for name in python python3 pip pip3; do
  target=/usr/bin/$name
  [ "$name" = python ] && target=/usr/bin/python3
  [ "$name" = pip ] && target=/usr/bin/pip3
  ln -sf "$target" "$ROOTFS/usr/local/bin/$name"
done

# podman import keeps numeric owners and xattrs (buildah from scratch + copy would not).
tar --numeric-owner --xattrs -C "$ROOTFS" -c . | podman import --quiet \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["python3"]' \
  - "$IMAGE" >/dev/null
echo "base: imported $IMAGE"
