# syntax=docker/dockerfile:1
# One image holds both binaries, /webhook and /gateway; the Deployments in
# manifests/ pick one with `command`, and kustomize `images:` retags it.
#   docker build -t ghcr.io/rrguard/rrguard:dev .

# Build: static binaries (no cgo), reproducible (-trimpath), cross-built
# for the target platform with Go's own toolchain rather than emulation.
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS=linux
ARG TARGETARCH
WORKDIR /src
# Dependencies first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
# Then the module as a whole: .dockerignore, not a list here, says what
# stays out, so that a new package cannot be forgotten. internal/imagebuild
# builds both binaries from this same context in a test.
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/webhook ./cmd/gateway

# Run: distroless static, no shell, no package manager, as the unprivileged
# nonroot user (65532), which the Deployments' runAsNonRoot also demands.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/webhook /out/gateway /
USER 65532:65532
ENTRYPOINT ["/webhook"]
