#!/bin/sh
# Regenerate the image's lock files from pyproject.toml, with a hash for every file.
#
# Versions are held to what the project's .venv runs (so the image ships what the
# tests passed with); hashes come from PyPI itself, not from a local cache, so
# they cover every wheel and sdist of each pinned release.
#
#   deploy/requirements.lock        what serving needs, gRPC included (the image's `serve` target)
#   deploy/train-requirements.lock  serving plus the `train` extra (the `train` target); both are
#                                   held to the same .venv, so a package has one version in both
#   deploy/build-requirements.lock  what building the tabserve wheel needs (setuptools)
#
# Run from the repository root: sh deploy/lock.sh
set -eu

venv=${VENV:-.venv}
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT

"$venv/bin/python" -m venv "$tools/venv"
"$tools/venv/bin/python" -m pip install --quiet pip-tools
"$venv/bin/python" -m pip freeze --exclude-editable | grep -v '^-e' > "$tools/held.txt"

compile() {
    env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null CUSTOM_COMPILE_COMMAND="sh deploy/lock.sh" \
        "$tools/venv/bin/pip-compile" --quiet --generate-hashes --strip-extras --allow-unsafe \
        --no-emit-index-url --no-emit-find-links --index-url https://pypi.org/simple \
        --constraint "$tools/held.txt" "$@" pyproject.toml
    # The hold-back file is temporary; its path in the "via" notes would only confuse.
    sed -i '/#   -c .*held\.txt$/d; /# via -c .*held\.txt$/d' "$2"
}

compile --output-file deploy/requirements.lock --extra grpc
compile --output-file deploy/train-requirements.lock --extra grpc --extra train
compile --output-file deploy/build-requirements.lock --build-deps-for wheel --only-build-deps
