#!/usr/bin/env bash
# Build kfops' two images with the tags the compiled pipelines name (`kfops images --json`).
#
#   scripts/images.sh            both images, for the bundled example's cluster: section
#   KFOPS_CONFIG=kfops.yaml ...  the tags of another project's cluster: section
#   KFOPS_PYTHON_IMAGE=...       the Python base (default: the official python image if it
#                                is here or can be pulled, else one made from Debian's
#                                packages by debootstrap: scripts/debian-python.Dockerfile)
#
# Needs a Docker engine that answers (scripts/docker-engine.sh starts one on this kind of
# machine) and the client of Debian's docker.io, whose built-in BuildKit does the cache and
# secret mounts. Prints each image's build time and size.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOCKER_BUILDKIT=1

log() { printf '\033[1m[images]\033[0m %s\n' "$*"; }
die() { echo "images: $*" >&2; exit 2; }

# The docker.io package's client: another `docker` earlier on PATH may lack BuildKit.
DOCKER="${KFOPS_DOCKER:-}"
if [ -z "$DOCKER" ]; then
  listed="$(dpkg -L docker.io 2>/dev/null || true)"
  DOCKER="$(grep -m1 '/bin/docker$' <<<"$listed" || command -v docker || true)"
fi
[ -n "$DOCKER" ] || die "no docker client; install Debian's docker.io (apt-get install docker.io)"
"$DOCKER" info >/dev/null 2>&1 \
  || die "no Docker engine answers ($DOCKER info failed); start one: scripts/docker-engine.sh start"

CONFIG="${KFOPS_CONFIG:-examples/churn/kfops.yaml}"
read -r KFOPS_TAG TFDV_TAG < <(.venv/bin/kfops images --config "$CONFIG" --json \
  | .venv/bin/python -c 'import json,sys; b=json.load(sys.stdin)["builds"]; print(b["kfops"], b["tfdv"])')

OFFICIAL=python:3.11-slim-bookworm
LOCAL_BASE=kfops/debian-python:3.11-bookworm
DEBIAN_ROOT=kfops/debian:bookworm-minbase
PYTHON_IMAGE="${KFOPS_PYTHON_IMAGE:-}"
if [ -z "$PYTHON_IMAGE" ]; then
  if "$DOCKER" image inspect "$OFFICIAL" >/dev/null 2>&1 || "$DOCKER" pull -q "$OFFICIAL" >/dev/null 2>&1; then
    PYTHON_IMAGE="$OFFICIAL"
  else
    PYTHON_IMAGE="$LOCAL_BASE"
  fi
fi

SECRET=()
CA="${KFOPS_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
[ -s "$CA" ] && SECRET=(--secret "id=ca,src=$CA")

build() {  # build TAG DOCKERFILE [ARGS...]: timed, host network (no bridge on this kind)
  local tag="$1" file="$2" start
  shift 2
  start=$(date +%s)
  "$DOCKER" build --quiet --network host -f "$file" -t "$tag" "$@" . >/dev/null
  local size
  size=$("$DOCKER" image inspect -f '{{.Size}}' "$tag")
  log "$tag: $(( $(date +%s) - start )) s, $(( size / 1000000 )) MB"
}

if [ "$PYTHON_IMAGE" = "$LOCAL_BASE" ] && ! "$DOCKER" image inspect "$LOCAL_BASE" >/dev/null 2>&1; then
  if ! "$DOCKER" image inspect "$DEBIAN_ROOT" >/dev/null 2>&1; then
    command -v debootstrap >/dev/null || die "no base image and no debootstrap; apt-get install debootstrap"
    log "no Python image can be pulled: making $DEBIAN_ROOT with debootstrap"
    root="$(mktemp -d)"
    trap 'rm -rf "$root"' EXIT
    debootstrap --variant=minbase bookworm "$root" "${KFOPS_DEBIAN_MIRROR:-http://deb.debian.org/debian}" >/dev/null
    tar -C "$root" -c . | "$DOCKER" import - "$DEBIAN_ROOT" >/dev/null
    rm -rf "$root"
    trap - EXIT
  fi
  build "$LOCAL_BASE" scripts/debian-python.Dockerfile --build-arg "DEBIAN_IMAGE=$DEBIAN_ROOT"
fi

log "Python base: $PYTHON_IMAGE"
build "$KFOPS_TAG" Dockerfile --build-arg "PYTHON_IMAGE=$PYTHON_IMAGE" "${SECRET[@]}"
build "$TFDV_TAG" runtimes/tfdv/Dockerfile --build-arg "PYTHON_IMAGE=$PYTHON_IMAGE" \
  --build-arg "KFOPS_IMAGE=$KFOPS_TAG" "${SECRET[@]}"
