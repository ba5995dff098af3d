# onyxia-lite as a container image: docs/CONTAINER.md says how to build, run and configure it.
#
#   docker build -t onyxia-lite .      (or scripts/build-image.sh, with Docker or Podman)
#   docker run -p 8080:8080 -p 9000:9000 -p 8200:8200 -v onyxia-data:/data onyxia-lite
#
# What goes into the image is listed once, in scripts/image-root.sh. ROOTFS_FROM names where
# those files come from: the build stage below, or an image holding them under /rootfs (what
# `scripts/build-image.sh --local` makes from a binary built on the host, with no base image).
ARG ROOTFS_FROM=build

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# The dependencies compile in their own layer, rebuilt only when Cargo.toml or Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked --bin onyxia-lite \
    && rm -r src
COPY src src
COPY web web
COPY catalog catalog
COPY fixtures fixtures
COPY scripts/image-root.sh scripts/image-root.sh
# touch: COPY keeps the sources' times, which may be older than the placeholder's build.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin onyxia-lite \
    && scripts/image-root.sh target/release/onyxia-lite /rootfs

FROM ${ROOTFS_FROM} AS rootfs

FROM scratch
COPY --from=rootfs /rootfs/system /
COPY --from=rootfs --chown=10001:10001 /rootfs/owned /
USER 10001:10001
# Every option is an ONYXIA_LITE_* variable (docs/CONFIG.md). Inside a container the listeners
# take connections from everywhere, and the data lives in the volume.
ENV ONYXIA_LITE_BIND=0.0.0.0 \
    ONYXIA_LITE_DATA_DIR=/data \
    HOME=/data
# Main (web UI, Onyxia API, OIDC issuer, service proxy), S3 and STS, Vault.
EXPOSE 8080 9000 8200
VOLUME /data
HEALTHCHECK --interval=5s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/onyxia-lite", "healthcheck", "--timeout", "4"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/onyxia-lite"]
CMD ["serve"]
