#!/usr/bin/env bash
# Runs the whole test suite: formatting, lints, and every test of the workspace.
# Installs what the tests need (nats-server, cargo-nextest) when it is missing, on Debian.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v nats-server >/dev/null 2>&1 || need_apt+=(nats-server)
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "==> installing ${need_apt[*]} (Debian packages)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "==> installing cargo-nextest"
  cargo install --locked cargo-nextest
fi

echo "==> nats-server $(nats-server --version 2>&1 | head -1)"
if [ -n "${KOOFILL_TEST_DATABASE_URL:-}" ]; then echo "==> PostgreSQL tests enabled"; fi

echo "==> docker-compose.yml against the Compose Specification"
./scripts/validate-compose.sh
echo "==> deploy/: kustomize overlays, Kubernetes and KEDA schemas, alert rules, dashboards"
./scripts/validate-deploy.sh
echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> doc tests"
cargo test --workspace --doc --locked
# The fault suite's short variant: real processes, every scenario, 200 orders each.
echo "==> fault suite (koofill chaos --orders 200)"
cargo build --locked -p koofill-cli
chaos_db=()
if [ -n "${KOOFILL_TEST_DATABASE_URL:-}" ]; then chaos_db=(--database-url "$KOOFILL_TEST_DATABASE_URL"); fi
cargo run --quiet --locked -p koofill-cli -- chaos --orders 200 --outage-secs 5 --settle-secs 90 "${chaos_db[@]}"
# Last, so that its summary closes the output.
echo "==> cargo nextest run"
cargo nextest run --workspace --locked --profile "${NEXTEST_PROFILE:-default}"
