# mmq in a container: `docker build -t mmq .`, then `docker run mmq` runs the
# whole system in one process (it needs MMQ_REDIS_ADDR), or use
# docker-compose.yml (`make up`) for Redis + API + workers.

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules in a layer of their own: rebuilt only when go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/mmq ./cmd/mmq

FROM debian:bookworm-slim
# The external programs mmq runs: ffmpeg/ffprobe, pdftotext/pdftoppm, qpdf.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates ffmpeg poppler-utils qpdf \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 mmq \
 && useradd --system --uid 10001 --gid mmq --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin mmq \
 && mkdir -p /data/blobs \
 && chown -R mmq:mmq /data
COPY --from=build /out/mmq /usr/local/bin/mmq
ENV MMQ_API_ADDR=0.0.0.0:8080 \
    MMQ_BLOBS_DIR=/data/blobs
USER mmq
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["mmq"]
# The production shape: this container is the API (it needs MMQ_REDIS_ADDR
# and API keys in MMQ_AUTH_KEYS, and refuses to start without them); run
# workers from the same image with `worker`. The all-in-one `run` is an
# explicit choice (`docker run mmq:local run`), and with auth on and no
# keys it starts only on a loopback address.
CMD ["api"]
