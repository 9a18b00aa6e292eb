#!/usr/bin/env bash
# The whole vodbridge test suite, runnable on a fresh machine: installs what the tests need
# (nats-server, the tansu Kafka-protocol broker, Python validators, promtool), then runs the
# format and lint gates, every Rust test (which start their own brokers on free loopback ports)
# and the cross-checks that use independent implementations (CloudEvents SDK, JSON Schema).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '\n==> %s\n' "$*"; }

apt_ready=0
need_apt() { # package binary
  command -v "$2" >/dev/null 2>&1 && return 0
  if [ "$apt_ready" = 0 ]; then apt-get update -qq; apt_ready=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
}

step "tools"
need_apt nats-server nats-server
need_apt prometheus promtool
need_apt docker-compose docker-compose
if ! command -v tansu >/dev/null 2>&1; then
  step "installing tansu (Kafka-protocol broker; about 15 minutes, once)"
  cargo install tansu --locked --features dynostore
fi
if ! command -v cargo-nextest >/dev/null 2>&1; then
  cargo install cargo-nextest --locked
fi
venv=target/venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q -r scripts/requirements.txt
export VODBRIDGE_PYTHON="$PWD/$venv/bin/python"

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "rust tests (brokers are started by the tests themselves)"
# The end-to-end tests drive the real binary; build it up front so parallel tests need not.
cargo build --workspace --locked --bins
cargo nextest run --workspace --locked --no-fail-fast

for check in scripts/checks/*.sh; do
  [ -e "$check" ] || continue
  step "$check"
  bash "$check"
done
