# For teams that build with Docker; `make image` builds the same image without a daemon.
# docker build -t ghcr.io/z8z8/enterprise-identity-operator:v0.1.0 .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY internal/ internal/
ARG TARGETOS=linux
ARG TARGETARCH=amd64
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags "-s -w" -o /manager ./cmd

# Static binary, CA certificates and a non-root user, nothing else: no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
ARG REVISION=""
ARG VERSION="v0.1.0"
LABEL org.opencontainers.image.title="enterprise-identity-operator" \
      org.opencontainers.image.source="https://github.com/z8z8/enterprise-identity-operator" \
      org.opencontainers.image.revision="$REVISION" \
      org.opencontainers.image.version="$VERSION" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /manager /manager
USER 65532:65532
ENTRYPOINT ["/manager"]
