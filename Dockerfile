# syntax=docker/dockerfile:1
# Ingenio backend image: build `ingenio-server` in a Rust builder, run it on Debian bookworm-slim as
# an unprivileged user. Configuration comes from config/ (baked in) plus the environment
# (the deployment guide's .env names); the profile defaults to prod, which requires JWT_SECRET.
#
#   docker build -t ingenio-backend .
#   docker run --env-file .env -p 8080:8080 ingenio-backend

FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
# Cache mounts keep the registry and target directory between builds (BuildKit).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release -p ingenio-server \
 && install -m 0755 target/release/ingenio-server /usr/local/bin/ingenio-server

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl tzdata \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 ingenio \
 && useradd --system --uid 10001 --gid ingenio --home-dir /opt/ingenio --shell /usr/sbin/nologin ingenio
WORKDIR /opt/ingenio
COPY --from=builder /usr/local/bin/ingenio-server /opt/ingenio/ingenio-server
COPY config/ /opt/ingenio/config/
COPY migrations/ /opt/ingenio/migrations/
# logs/ (rolling log files); data/ and artifacts/ (local artifact storage when no MinIO is configured).
RUN mkdir -p /opt/ingenio/logs /opt/ingenio/data /opt/ingenio/artifacts \
 && chown ingenio:ingenio /opt/ingenio/logs /opt/ingenio/data /opt/ingenio/artifacts
USER ingenio:ingenio

ENV INGENIO_PROFILE=prod \
    PORT=8080
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD curl -fsS "http://127.0.0.1:${PORT}/api/actuator/health/liveness" >/dev/null || exit 1

# The binary's subcommands work too: `docker run ... ingenio-backend db migrate`,
# `docker run -i ... ingenio-backend user create --username admin --email a@b.c --password-stdin --admin`.
ENTRYPOINT ["/opt/ingenio/ingenio-server"]
CMD ["serve"]
