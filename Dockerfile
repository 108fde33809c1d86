# syntax=docker/dockerfile:1
# The function's runtime image, for machines with Docker (BuildKit). It builds
# the binary hack/xpkg.sh builds, with the same Go and the same flags; without
# Docker, `make xpkg` assembles an equivalent image from scratch
# (tools/image: image function). Multi-arch:
#   docker buildx build --platform linux/amd64,linux/arm64 -t REPO:TAG .
# One platform, then a package that embeds it:
#   docker build --platform linux/amd64 -t function-packet-capture-runtime .
#   crossplane xpkg build --package-root=package \
#     --embed-runtime-image=function-packet-capture-runtime -o function-packet-capture-amd64.xpkg

# The Go of go.mod's go line: golang images set GOTOOLCHAIN=local.
ARG GO_VERSION=1.26.8

# Compile on the build machine's platform, cross-compiling to the target's.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src
ENV CGO_ENABLED=0
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -buildvcs=false -ldflags='-s -w' -o /function .

# Static binary, no shell, non-root (65532, "nonroot").
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /function /function
EXPOSE 9443
USER 65532:65532
ENTRYPOINT ["/function"]
