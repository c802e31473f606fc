#!/usr/bin/env bash
# Runs `koofill dev`: a child nats-server, SQLite under .koofill/, the ingress — with embedded
# defaults and generated development keys. Installs nats-server (Debian package) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v nats-server >/dev/null 2>&1; then
  echo "==> installing nats-server (Debian package)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nats-server
fi
if ! command -v cc >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq build-essential
fi
echo "==> building koofill"
cargo build --locked -p koofill-cli --bin koofill
exec ./target/debug/koofill dev "$@"
