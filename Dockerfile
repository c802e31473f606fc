# syntax=docker/dockerfile:1
# One image, one binary: `koofill`, whose subcommands are every role (`serve ingress`,
# `serve provisioning`, `migrate`, `healthcheck URL`). docker-compose.yml picks the role.

FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
# The cache mounts keep the registry and target/ between builds; target/ is a mount, so the
# binary is copied out in the same step. Compose builds one image per service from the same
# layers; `locked` makes those builds take turns on target/ instead of racing.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p koofill-cli \
 && cp target/release/koofill /usr/local/bin/koofill

FROM debian:bookworm-slim
# ca-certificates: the open-API client reaches KooGallery over HTTPS.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/koofill --create-home --shell /usr/sbin/nologin koofill
COPY --from=builder /usr/local/bin/koofill /usr/local/bin/koofill
USER koofill
WORKDIR /var/lib/koofill
EXPOSE 8080
ENTRYPOINT ["koofill"]
