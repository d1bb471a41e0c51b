# kfops main image: the kfops library, the KFP components and the pipelines, in the one
# environment locked by uv.lock (kfp, feast, mlflow, kserve, scikit-learn, ...).
#
# Two environments, two images. TFDV 1.16 pins protobuf<5, numpy<2 and pandas<2, which
# cannot share an environment with kfp 2.17 (protobuf 6). So this image holds no TFDV;
# runtimes/tfdv/Dockerfile builds FROM it and adds a second interpreter at /opt/tfdv. The
# validate component still runs here (the KFP executor needs protobuf 6) and hands the TFDV
# work to that interpreter as a subprocess (KFOPS_TFDV_PYTHON).
#
# `make images` builds both images (scripts/images.sh); by hand:
#   DOCKER_BUILDKIT=1 docker build --network host -t ghcr.io/kfops/kfops:0.1.0 .
# Where no registry is reachable, PYTHON_IMAGE names a base made from Debian's packages
# (scripts/debian-python.Dockerfile). Where TLS is intercepted on the way to PyPI, pass the
# CA bundle as a secret (--secret id=ca,src=/etc/ssl/certs/ca-certificates.crt): it is used
# by the RUN steps that download and never stored in a layer.

# Debian 12, the platform on which both lock files were resolved and tested.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG UV_VERSION=0.13.9

# uv from its PyPI package (the same version scripts/setup.sh uses); only the binary is kept.
# In a venv: Debian's own python3.11 refuses pip installs into the system (PEP 668).
FROM ${PYTHON_IMAGE} AS uv
ARG UV_VERSION
RUN --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi \
    && python3.11 -m venv /opt/uv \
    && /opt/uv/bin/pip install --no-cache-dir --disable-pip-version-check "uv==${UV_VERSION}"

FROM ${PYTHON_IMAGE} AS build
COPY --from=uv /opt/uv/bin/uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# Dependencies first: this layer is rebuilt only when pyproject.toml or uv.lock change.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export SSL_CERT_FILE=/run/secrets/ca; fi \
    && uv sync --frozen --no-dev --no-install-project
COPY kfops/ kfops/
COPY components/ components/
COPY pipelines/ pipelines/
RUN --mount=type=cache,target=/root/.cache/uv --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export SSL_CERT_FILE=/run/secrets/ca; fi \
    && uv sync --frozen --no-dev

FROM ${PYTHON_IMAGE}
# PATH: KFP runs lightweight components with `python3 -m kfp.dsl.executor_main`, which must
# be the environment's interpreter. PYTHONPATH: components/ and pipelines/ are not in the
# kfops wheel.
ENV PATH=/app/.venv/bin:${PATH} \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    MLFLOW_DISABLE_TELEMETRY=true
# KFP v2 stages artifacts under /minio, /s3 or /gcs (by pipeline root scheme); a non-root
# user cannot create those at run time, so they exist and belong to it.
RUN useradd --uid 1000 --user-group --create-home --shell /usr/sbin/nologin kfops \
    && mkdir -p /minio /s3 /gcs \
    && chown kfops:kfops /minio /s3 /gcs
COPY --from=build /app /app
WORKDIR /app
# Numeric, so that Kubernetes can enforce runAsNonRoot.
USER 1000:1000
# For `docker run ... kfops serve`: readiness of the model server; a container running a
# pipeline step or another command is healthy while it runs (Kubernetes ignores this and
# uses the probes of the InferenceService).
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-m", "kfops.serving.healthcheck"]
CMD ["kfops", "--help"]
