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
COPY reference-model/weights /usr/local/share/triageboard/weights
USER triageboard
WORKDIR /data
ENV TRIAGEBOARD_BIND=0.0.0.0:8080 \
    TRIAGEBOARD_DATA_DIR=/data \
    TRIAGEBOARD_REFERENCE_WEIGHTS=/usr/local/share/triageboard/weights \
    RUST_LOG=info
EXPOSE 8080
VOLUME ["/data"]
ENTRYPOINT ["/usr/local/bin/triageboard"]
CMD ["serve"]

# The CUDA build of the reference pipeline (`reference predict --device cuda`), for H100/H200
# (kernels for sm_90). `docker build --target reference-cuda -t triageboard-cuda .`
# Build needs: nvcc and the CUDA 13.0 headers and libraries, here PyPI's wheels (no GPU and
# no nvidia image needed; scripts/build-cuda.sh pins the versions and makes a link-time
# stand-in for libcuda). Run needs: an NVIDIA driver >= 580 (CUDA 13.0) giving libcuda.so.1
# (`docker run --gpus all`), and libcudart.so.13, libcublas(Lt).so.13, libcurand.so.10,
# which this image copies from the same wheels.
FROM rust:${RUST_VERSION}-bookworm AS build-cuda
RUN apt-get update && apt-get install -y --no-install-recommends python3-venv && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN scripts/build-cuda.sh \
    && cp target-cuda/release/triageboard /usr/local/bin/triageboard \
    && mkdir -p /usr/local/lib/triageboard-cuda \
    && cp -L .cuda-root/lib64/libcudart.so.13 .cuda-root/lib64/libcublas.so.13 \
        .cuda-root/lib64/libcublasLt.so.13 .cuda-root/lib64/libcurand.so.10 /usr/local/lib/triageboard-cuda/

FROM debian:bookworm-slim AS reference-cuda
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build-cuda /usr/local/bin/triageboard /usr/local/bin/triageboard
COPY --from=build-cuda /usr/local/lib/triageboard-cuda /usr/local/lib/triageboard-cuda
COPY reference-model/weights /usr/local/share/triageboard/weights
ENV LD_LIBRARY_PATH=/usr/local/lib/triageboard-cuda \
    TRIAGEBOARD_REFERENCE_WEIGHTS=/usr/local/share/triageboard/weights \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
ENTRYPOINT ["/usr/local/bin/triageboard"]
CMD ["reference", "predict", "--help"]
