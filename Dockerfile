# kafka-ingress container image: a static musl binary on `scratch`.
#
# Multi-stage: the first stage runs scripts/build-static.sh (the same script as on a
# workstation: it installs musl-tools, builds the x86_64 musl release binary with --locked and
# fails unless the result is static), the final image holds only that binary and the CA
# certificates (for TLS to brokers; without them the Mozilla roots built into the binary are
# used). The binary is x86_64: on another host, build with `docker build --platform linux/amd64`.
#
#   docker build -t kafka-ingress .
#   docker run --rm -p 9070:9070 -v kafka-ingress-data:/data \
#     -e RESTATE_INGRESS__KAFKA_CLUSTERS='[{name="my-cluster",brokers=["PLAINTEXT://broker:9092"]}]' \
#     kafka-ingress
#
# Configuration: RESTATE_* variables, or mount a restate.toml and pass
# `--config-file /etc/kafka-ingress/restate.toml` (arguments after the image name go to the
# binary). Subscriptions and deployments are kept in the /data volume.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN bash scripts/build-static.sh \
 && mkdir -p /rootfs/data \
 && cp target/static/kafka-ingress /rootfs/kafka-ingress

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /rootfs/kafka-ingress /kafka-ingress
# An empty /data owned by the runtime user, so a fresh named volume is writable.
COPY --from=build --chown=65532:65532 /rootfs/data /data
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    RESTATE_BASE_DIR=/data
USER 65532:65532
WORKDIR /data
VOLUME ["/data"]
EXPOSE 9070
ENTRYPOINT ["/kafka-ingress"]
