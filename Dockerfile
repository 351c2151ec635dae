# Builds the spyder binary (and the demo site server) on Debian with
# libzmq, and runs them on a slim Debian with the libzmq runtime only.
FROM golang:1.26-bookworm AS build
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends libzmq3-dev pkg-config && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath -o /out/spyder ./cmd/spyder && go build -trimpath -o /out/demosite ./cmd/demosite

FROM debian:bookworm-slim
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends libzmq5 ca-certificates && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /data spyder && mkdir -p /data && chown spyder /data
COPY --from=build /out/spyder /out/demosite /usr/local/bin/
USER spyder
WORKDIR /data
ENTRYPOINT ["spyder"]
CMD ["help"]
