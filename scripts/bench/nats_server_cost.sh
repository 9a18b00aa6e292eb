#!/usr/bin/env bash
# What a JetStream publish costs nats-server by message shape (bare body, bigger body,
# Content-Type, Nats-Msg-Id): runs crates/sink-nats/examples/server_cost.rs against a private
# nats-server -js and prints the server's CPU time per acknowledged message.
#
#   scripts/bench/nats_server_cost.sh        # MESSAGES=100000 ROUNDS=4 CONCURRENCY=64
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/sbin"
command -v nats-server >/dev/null || { echo "nats-server missing: apt-get install -y nats-server" >&2; exit 1; }
cargo build --release -p vodbridge-sink-nats --example server_cost

. scripts/lib.sh
WORK=$(mktemp -d)
NATS_PID=
cleanup() { [ -n "$NATS_PID" ] && { kill "$NATS_PID" 2>/dev/null; wait "$NATS_PID" 2>/dev/null; }; rm -rf "$WORK"; }
trap cleanup EXIT

NATS_PORT=$(free_port)
nats-server -js -a 127.0.0.1 -p "$NATS_PORT" -sd "$WORK/store" -l "$WORK/nats.log" &
NATS_PID=$!
wait_tcp "$NATS_PORT"
NATS_URL="nats://127.0.0.1:$NATS_PORT" NATS_SERVER_PID=$NATS_PID target/release/examples/server_cost
