# Shared by deploy/image/*.sh: names, tags and the podman/buildah flags this machine kind needs.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/pyproject.toml" | head -n1)
export PYTHON_IMAGE=${PYTHON_IMAGE:-docker.io/library/python:3.11-slim-bookworm}
IMAGE=${IMAGE:-localhost/tabserve}                    # the Dockerfile's serve target
TRAIN_IMAGE=${TRAIN_IMAGE:-localhost/tabserve-train}  # its train target

# The host's CA bundle, mounted read-only into RUN steps when TLS to the package index goes through
# an intercepting proxy; never copied into an image.
HOST_CA=${HOST_CA:-/etc/ssl/certs/ca-certificates.crt}

# Root here lacks CAP_SYS_RESOURCE, so podman's default rlimits cannot be set; crun refuses the
# host's mixed cgroups, so runc runs the containers.
PODMAN_RUN=(podman run --runtime runc --network host
  --ulimit nofile=16384:16384 --ulimit nproc=16384:16384)
