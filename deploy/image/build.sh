#!/usr/bin/env bash
# Build the tabserve images with buildah, no Docker engine and no registry needed:
#   deploy/image/build.sh   -> localhost/tabserve:latest and :VERSION          (target serve)
#                              localhost/tabserve-train:latest and :VERSION    (target train)
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
# host's cgroups; --pull=never because the base is local; --layers reuses unchanged steps, so the
# second target reuses the shared build and runtime stages of the first.
build() {  # target image
  buildah bud --pull=never --layers --format docker --isolation chroot \
    --build-arg "PYTHON_IMAGE=$PYTHON_IMAGE" "${mounts[@]}" \
    -f deploy/Dockerfile --target "$1" -t "$2:latest" -t "$2:$VERSION" .
  echo "image: built $2:latest ($2:$VERSION, target $1)"
}
build serve "$IMAGE"
build train "$TRAIN_IMAGE"
