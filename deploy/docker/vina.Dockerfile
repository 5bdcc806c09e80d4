# syntax=docker/dockerfile:1
#
# OMTX-Hub runner for AutoDock Vina (CPU): `omtx worker --models vina` with
# Debian's autodock-vina, openbabel and python3-rdkit (the ligand
# preparation script runs under /usr/bin/python3).
#
# Build from the repository root (the build context):
#   docker build -f deploy/docker/vina.Dockerfile -t omtx-vina:TAG .
#
# Base images are pinned by tag here. In the registry, pin them by digest
# (FROM image:tag@sha256:...) and let a bot bump the digests.

FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOOS=linux GOFLAGS=-trimpath
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -ldflags="-s -w" -o /out/omtx .

FROM debian:bookworm-slim
# The engine versions the adapter was checked against: Vina 1.2.3 and
# Open Babel 3.1.1 (bookworm's). tini reaps the engines' child processes.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      'autodock-vina=1.2.3*' 'openbabel=3.1.1*' python3 python3-rdkit ca-certificates tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 omtx \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/omtx --shell /usr/sbin/nologin omtx \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/omtx
COPY --from=build /out/omtx /usr/local/bin/omtx
ENV OMTX_DATA_DIR=/var/lib/omtx \
    OMTX_WORKERS=1 \
    HOME=/var/lib/omtx
USER 10001:10001
WORKDIR /var/lib/omtx
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/omtx", "worker", "--models", "vina"]
