# syntax=docker/dockerfile:1
#
# iobridge image: a static binary on distroless, running as non-root.
#
#   docker build -t iobridge .
#   docker run -p 8080:8080 -e IOBRIDGE_API_TOKEN=change-me iobridge
#
# The configuration is /etc/iobridge/config.toml: the example configuration
# with the Socket.IO listener on every interface (":8080"); the control API
# stays on loopback, for a backend in the same pod. Mount your own file
# over it.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/iobridge . \
 && sed -e 's/^listen = "127\.0\.0\.1:8080"/listen = ":8080"/' config.example.toml > /out/config.toml \
 && grep -q '^listen = ":8080"' /out/config.toml \
 && IOBRIDGE_API_TOKEN=build-check /out/iobridge -check -config /out/config.toml

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/iobridge /usr/local/bin/iobridge
COPY --from=build /out/config.toml /etc/iobridge/config.toml
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/iobridge", "-config", "/etc/iobridge/config.toml"]
