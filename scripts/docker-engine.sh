#!/usr/bin/env bash
# Start or stop a Docker engine for the tests and `make images` on a machine without one.
#
#   scripts/docker-engine.sh start   prints "started" when it started dockerd, "running"
#                                    when one already answered (then stop leaves it alone)
#   scripts/docker-engine.sh stop    stops only the engine that start started
#
# As root, with Debian's docker.io: no bridge network and no iptables (this kind of machine
# has neither), so containers use --network host.
set -euo pipefail
STATE="${KFOPS_DOCKERD_STATE:-/tmp/kfops-dockerd}"
listed="$(dpkg -L docker.io 2>/dev/null || true)"
DOCKER="$(grep -m1 '/bin/docker$' <<<"$listed" || command -v docker || true)"
DOCKERD="$(grep -m1 '/bin/dockerd$' <<<"$listed" || command -v dockerd || true)"

case "${1:-}" in
  start)
    if [ -n "$DOCKER" ] && "$DOCKER" info >/dev/null 2>&1; then
      echo running
      exit 0
    fi
    if [ -z "$DOCKERD" ] || [ "$(id -u)" != 0 ]; then
      echo "docker-engine: cannot start dockerd (needs root and Debian's docker.io)" >&2
      exit 1
    fi
    mkdir -p "$STATE"
    "$DOCKERD" --iptables=false --bridge=none >"$STATE/dockerd.log" 2>&1 &
    echo $! >"$STATE/pid"
    for _ in $(seq 1 60); do
      "$DOCKER" info >/dev/null 2>&1 && { echo started; exit 0; }
      sleep 0.5
    done
    echo "docker-engine: dockerd did not answer in 30 s; see $STATE/dockerd.log" >&2
    exit 1
    ;;
  stop)
    [ -f "$STATE/pid" ] || exit 0
    pid="$(cat "$STATE/pid")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    rm -f "$STATE/pid"
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
