# syntax=docker/dockerfile:1
# The etcd-dr container image: Debian 12 slim with the runtime libraries and
# the CA bundle (scripts/image/packages), the binary at /usr/bin/etcd-dr, run
# as the non-root user etcd-dr (UID/GID 65532). The entry point is the binary
# itself (exec form): nothing runs a shell. Why a Debian base and not a static
# binary FROM scratch: doc/container-image.md. tests/package/image.sh builds
# the same root with debootstrap and scripts/image/setup.sh, and runs a backup
# to S3 and a restore inside it as UID 65532.
#   docker build -t etcd-dr:0.1.0 .
# Pin the bases by digest (debian:12-slim@sha256:...) for reproducible builds.

FROM debian:12 AS build
RUN apt-get update -qq && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        build-essential autoconf automake libtool pkg-config \
        libcurl4-openssl-dev libjansson-dev libzstd-dev libsodium-dev libarchive-dev zlib1g-dev libssl-dev
WORKDIR /src
COPY . .
RUN ./autogen.sh && mkdir -p /obj && cd /obj && /src/configure -q --enable-werror && \
    make -j"$(nproc)" etcd-dr && strip etcd-dr && ./etcd-dr --version

FROM debian:12-slim
COPY scripts/image/setup.sh scripts/image/packages /tmp/image/
RUN sh /tmp/image/setup.sh /tmp/image/packages && rm -rf /tmp/image
COPY --from=build /obj/etcd-dr /usr/bin/etcd-dr
USER 65532:65532
WORKDIR /var/lib/etcd-dr
ENTRYPOINT ["/usr/bin/etcd-dr"]
CMD ["help"]
