# A stand-in for python:3.11-slim-bookworm made only from Debian's packages, for machines
# that reach no container registry (scripts/images.sh builds it when the official image
# cannot be pulled). DEBIAN_IMAGE is a bookworm root file system made by debootstrap and
# `docker import`. Python 3.11 from Debian, linked where the official image has it.
ARG DEBIAN_IMAGE=kfops/debian:bookworm-minbase
FROM ${DEBIAN_IMAGE}
ENV LANG=C.UTF-8
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        python3.11 python3.11-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && ln -s /usr/bin/python3.11 /usr/local/bin/python3.11 \
    && ln -s python3.11 /usr/local/bin/python3 \
    && ln -s python3.11 /usr/local/bin/python
CMD ["python3"]
