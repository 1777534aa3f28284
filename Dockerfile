# TriageBoard: multi-stage build of the `triageboard` binary, and a slim runtime that runs
# `serve`. Data (SQLite file, uploads, demo test set) lives in the /data volume.
#
#   docker build -t triageboard .
#   docker run -p 8080:8080 -v triageboard-data:/data triageboard
#
# For PostgreSQL and several machines, pass TRIAGEBOARD_DATABASE=postgres://... and mount
# the same /data volume on every `serve` and `worker` container.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin triageboard \
    && cp target/release/triageboard /usr/local/bin/triageboard

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /data --uid 10001 triageboard \
    && mkdir -p /data && chown triageboard /data
COPY --from=build /usr/local/bin/triageboard /usr/local/bin/triageboard
USER triageboard
WORKDIR /data
ENV TRIAGEBOARD_BIND=0.0.0.0:8080 \
    TRIAGEBOARD_DATA_DIR=/data \
    RUST_LOG=info
EXPOSE 8080
VOLUME ["/data"]
ENTRYPOINT ["/usr/local/bin/triageboard"]
CMD ["serve"]

# The CUDA build of the reference pipeline (reference-model/, issue 4) gets its own target
# here once that crate has its Candle models: `docker build --target reference-cuda .`,
# FROM an nvidia/cuda devel image, building with Candle's `cuda` feature.
