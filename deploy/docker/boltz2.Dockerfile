# syntax=docker/dockerfile:1
#
# OMTX-Hub runner for Boltz-2 (GPU): `omtx worker --models boltz2` with
# `boltz` installed by pip at a pinned version in a virtual environment.
#
# The model weights are NOT in the image: boltz downloads them (several GB:
# the Boltz-2 checkpoints and the CCD molecule library) on its first run
# into OMTX_BOLTZ_CACHE, which the Deployment mounts as a cache volume.
# A pod's first job after a scale-up therefore waits for the download.
#
# Build from the repository root (the build context):
#   docker build -f deploy/docker/boltz2.Dockerfile -t omtx-boltz2:TAG .
#
# Base images are pinned by tag here. In the registry, pin them by digest
# (FROM image:tag@sha256:...) and let a bot bump the digests. For a fully
# reproducible Python layer, replace the pip line with a hashed lock file
# (pip-compile --generate-hashes) once the versions below are validated.

FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOOS=linux GOFLAGS=-trimpath
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -ldflags="-s -w" -o /out/omtx .

# The PyTorch wheels bring their own CUDA libraries; the base supplies the
# CUDA user-space environment the NVIDIA device plugin expects. Ubuntu
# 22.04's Python 3.10 has wheels for every one of boltz's pinned dependencies.
FROM nvidia/cuda:12.6.3-runtime-ubuntu22.04
# boltz 2.2.0 is the release the adapter's flags and output parsing follow.
ARG BOLTZ_VERSION=2.2.0
ARG TORCH_VERSION=2.7.1
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates tini \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir "torch==${TORCH_VERSION}" "boltz==${BOLTZ_VERSION}" \
 && groupadd --system --gid 10001 omtx \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/omtx --shell /usr/sbin/nologin omtx \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/omtx /var/cache/boltz
COPY --from=build /out/omtx /usr/local/bin/omtx
# OMTX_BOLTZ_CACHE is boltz's --cache: the weights volume's mount path.
# The other caches go to writable volumes (the root file system is read-only).
ENV PATH=/opt/venv/bin:$PATH \
    OMTX_BOLTZ=boltz \
    OMTX_BOLTZ_CACHE=/var/cache/boltz \
    OMTX_DATA_DIR=/var/lib/omtx \
    OMTX_WORKERS=1 \
    HOME=/var/lib/omtx \
    XDG_CACHE_HOME=/tmp/cache \
    NUMBA_CACHE_DIR=/tmp/numba \
    MPLCONFIGDIR=/tmp/matplotlib \
    PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
WORKDIR /var/lib/omtx
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/omtx", "worker", "--models", "boltz2"]
