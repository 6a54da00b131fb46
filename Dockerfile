# syntax=docker/dockerfile:1
# Container image of the help desk (all services in one binary).
# Local development does not need Docker: see deploy/run.sh and deploy/test.sh.
# Compose setup with Postgres and NATS: deploy/compose.yaml.

FROM rust:1.95-bookworm AS builder
# No protoc needed: proto/build.rs compiles the .proto files with protox (pure Rust).
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target,id=helpdesk-target \
    cargo build --release --bin helpdesk \
    && install -D -m 0755 target/release/helpdesk /out/helpdesk

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 helpdesk \
    && useradd --system --uid 10001 --gid helpdesk --home-dir /nonexistent --shell /usr/sbin/nologin helpdesk
COPY --from=builder /out/helpdesk /usr/local/bin/helpdesk
USER helpdesk:helpdesk
# Listen addresses and service URLs (HELPDESK_GATEWAY__LISTEN, HELPDESK_DATABASE__URL,
# HELPDESK_NATS__URL, ...) are set by the deployment, e.g. deploy/compose.yaml.
EXPOSE 8080
ENTRYPOINT ["helpdesk"]
CMD ["serve", "all"]
