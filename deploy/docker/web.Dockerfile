# syntax=docker/dockerfile:1
#
# OMTX-Hub web tier: `omtx serve` (API, pages, WebSocket, /metrics) as a
# static binary on a distroless base. No shell, no package manager.
#
# Build from the repository root (the build context):
#   docker build -f deploy/docker/web.Dockerfile -t omtx-web:TAG .
#
# Base images are pinned by tag here. In the registry, pin them by digest
# (FROM image:tag@sha256:...) and let a bot such as Renovate or Dependabot
# bump the digests, so that a rebuild of the same commit gives the same bytes.

FROM golang:1.26-bookworm AS build
WORKDIR /src
# A static binary: modernc.org/sqlite is pure Go, so nothing needs cgo.
ENV CGO_ENABLED=0 GOOS=linux GOFLAGS=-trimpath
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -ldflags="-s -w" -o /out/omtx . \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/omtx /usr/local/bin/omtx
# The data folder (local token, scratch files); a writable volume in Kubernetes.
COPY --from=build --chown=65532:65532 /out/data /var/lib/omtx
# Listen on every interface inside the container; OMTX_WORKERS=0: the web
# tier runs no model, runner Deployments lease the jobs.
ENV OMTX_ADDR=0.0.0.0:8080 \
    OMTX_DATA_DIR=/var/lib/omtx \
    OMTX_WORKERS=0
# distroless "nonroot": uid and gid 65532.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/omtx", "serve"]
