#!/usr/bin/env bash
# Set up kfops on a fresh clone: uv, the main environment, the TFDV runtime.
# Idempotent: with both environments in place it finishes in a second or two.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION="0.13.9"
export MLFLOW_DISABLE_TELEMETRY=true

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

PYTHON="${KFOPS_PYTHON:-$(command -v python3.11 || command -v python3)}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "setup: kfops needs Python 3.11 (found $("$PYTHON" --version 2>&1)); set KFOPS_PYTHON" >&2
  exit 2
fi
# The real interpreter, not a pyenv shim: uv rebuilds a venv whose interpreter path changed.
PYTHON="$("$PYTHON" -c 'import sys; print(sys.executable)')"

if command -v uv >/dev/null 2>&1 && uv --version | grep -q "$UV_VERSION"; then
  UV=(uv)
else
  if ! "$PYTHON" -m uv --version 2>/dev/null | grep -q "$UV_VERSION"; then
    log "installing uv $UV_VERSION"
    "$PYTHON" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
  fi
  UV=("$PYTHON" -m uv)
fi

# Bytecode compiled at install: uv (unlike pip) does not, and with PYTHONDONTWRITEBYTECODE
# set (as on this kind of machine) every step's interpreter would compile every module it
# imports, every time. About 30 s once per environment; a few seconds when already done.
log "main environment (.venv)"
"${UV[@]}" sync --frozen --quiet --compile-bytecode --python "$PYTHON"

# TFDV 1.16 pins protobuf<5, numpy<2 and pandas<2; it cannot share the main environment
# (see docs/architecture.md), so it gets its own interpreter, called as a subprocess.
log "TFDV runtime (runtimes/tfdv/.venv)"
"${UV[@]}" sync --frozen --quiet --compile-bytecode --python "$PYTHON" --directory runtimes/tfdv

# checkov (the security scan of terraform/, manifests/ and the Dockerfiles in tests/infra)
# pins packaging<24 and networkx<3, below the main environment's: its own lock too.
log "checkov (runtimes/checkov/.venv)"
"${UV[@]}" sync --frozen --quiet --python "$PYTHON" --directory runtimes/checkov

# Debian packages, each started by the tests on 127.0.0.1 only: Redis (Feast online store),
# wrk (load for benchmarks/serving.py), Prometheus and promtool (rollout analysis, alert
# rule tests), Alertmanager (drift alerts), PostgreSQL (the MLflow server's backend store),
# and docker.io with debootstrap: the engine that builds and runs the images, and the
# Debian root file system their local base image is made from (no registry is reachable).
SYSTEM_PACKAGES=(redis-server wrk prometheus prometheus-alertmanager postgresql docker.io debootstrap)
SYSTEM_PACKAGES+=(chromium chromium-driver)  # the dashboard's browser test (tests/dashboard/test_browser.py)
missing=()
for pkg in "${SYSTEM_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "system packages: ${missing[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    log "missing system packages (tests that need them are skipped): ${missing[*]}"
  fi
fi

log "ready: .venv/bin/kfops"
