# syntax=docker/dockerfile:1
#
# OMTX-Hub runner for Chai-1 (GPU): `omtx worker --models chai1` with
# `chai_lab` installed by pip at a pinned version in a virtual environment
# (it provides the `chai-lab` command).
#
# The model weights are NOT in the image: chai-lab downloads them (about
# 5 GB: the trunk, the conformer library and the ESM language model) on its
# first run into CHAI_DOWNLOADS_DIR, which the Deployment mounts as a cache
# volume. A pod's first job after a scale-up therefore waits for the download.
#
# Build from the repository root (the build context):
#   docker build -f deploy/docker/chai1.Dockerfile -t omtx-chai1:TAG .
#
# Base images are pinned by tag here. In the registry, pin them by digest
# (FROM image:tag@sha256:...) and let a bot bump the digests. For a fully
# reproducible Python layer, replace the pip line with a hashed lock file
# (pip-compile --generate-hashes) once the version below is validated.

FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOOS=linux GOFLAGS=-trimpath
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -ldflags="-s -w" -o /out/omtx .

# chai_lab needs Python 3.11 or later: Ubuntu 24.04 has 3.12. chai_lab pins
# its own PyTorch; the wheels bring their CUDA libraries.
FROM nvidia/cuda:12.6.3-runtime-ubuntu24.04
# chai_lab 0.6.1 is the release the adapter's flags and output parsing follow.
ARG CHAI_LAB_VERSION=0.6.1
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates tini \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir "chai_lab==${CHAI_LAB_VERSION}" \
 && groupadd --system --gid 10001 omtx \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/omtx --shell /usr/sbin/nologin omtx \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/omtx /var/cache/chai
COPY --from=build /out/omtx /usr/local/bin/omtx
# CHAI_DOWNLOADS_DIR is where chai-lab keeps its weights: the weights
# volume's mount path. The other caches go to writable volumes (the root
# file system is read-only).
ENV PATH=/opt/venv/bin:$PATH \
    OMTX_CHAI=chai-lab \
    CHAI_DOWNLOADS_DIR=/var/cache/chai \
    OMTX_DATA_DIR=/var/lib/omtx \
    OMTX_WORKERS=1 \
    HOME=/var/lib/omtx \
    XDG_CACHE_HOME=/tmp/cache \
    HF_HOME=/var/cache/chai/huggingface \
    NUMBA_CACHE_DIR=/tmp/numba \
    MPLCONFIGDIR=/tmp/matplotlib \
    PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
WORKDIR /var/lib/omtx
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/omtx", "worker", "--models", "chai1"]
