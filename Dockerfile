# syntax=docker/dockerfile:1

# leadflow: one static binary (API, worker, migrations, dev server) on distroless.
#   docker build -t leadflow .
#   docker run --rm leadflow --help

FROM golang:1.26 AS build
WORKDIR /src
# go.mod asks for Go 1.26.8 or newer; never download another toolchain.
ENV GOTOOLCHAIN=local CGO_ENABLED=0
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags "-s -w" -o /leadflow ./cmd/leadflow

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /leadflow /leadflow
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/leadflow"]
