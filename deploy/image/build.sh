#!/usr/bin/env bash
# Build the tabserve image with buildah, no Docker engine and no registry needed:
#   deploy/image/build.sh            -> localhost/tabserve:latest and :VERSION
# The stand-in base image is made first when missing (deploy/image/base.sh).
set -euo pipefail
. "$(dirname "$0")/common.sh"
cd "$ROOT"

"$ROOT/deploy/image/base.sh"

mounts=()
if [ -f "$HOST_CA" ]; then
  mounts=(-v "$HOST_CA:/etc/ssl/certs/ca-certificates.crt:ro")
fi

# --format docker keeps HEALTHCHECK (OCI drops it); --isolation chroot because crun refuses the
# host's cgroups; --pull=never because the base is local; --layers reuses unchanged steps.
buildah bud --pull=never --layers --format docker --isolation chroot \
  --build-arg "PYTHON_IMAGE=$PYTHON_IMAGE" "${mounts[@]}" \
  -f deploy/Dockerfile -t "$IMAGE:latest" -t "$IMAGE:$VERSION" .
echo "image: built $IMAGE:latest ($IMAGE:$VERSION)"
