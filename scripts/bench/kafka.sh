#!/usr/bin/env bash
# HTTP -> Kafka, side by side: vodbridge (Tencent callback route, Kafka sink in binary mode,
# answering 200 only after every delivery report) against `bare_producer` (rdkafka used directly
# with the same producer settings, producing the same canonical message, closed loop with as many
# senders as wrk has connections). One private tansu broker (memory storage) for both,
# alternating runs. Same fixture body, fresh media id per request/message.
#
#   scripts/bench/kafka.sh           # ROUNDS=2 DURATION=15 CONNECTIONS=64 THREADS=2
#
# Prints one line per run and the ratio of the medians. Needs wrk and tansu on PATH
# (~/.cargo/bin is searched too) and builds both programs in release mode.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-15}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
BODY=${BODY:-$ROOT/tests/fixtures/tencent/new_file_upload.json}
EVENT=${EVENT:-$ROOT/tests/fixtures/tencent/new_file_upload.expected.json}
export PATH="$PATH:$HOME/.cargo/bin"

command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk" >&2; exit 1; }
command -v tansu >/dev/null || { echo "tansu missing: cargo install tansu --locked --features dynostore" >&2; exit 1; }

cargo build --release -p vodbridge --bin vodbridge
cargo build --release -p vodbridge-sink-kafka --example bare_producer

. scripts/lib.sh
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

KAFKA_PORT=$(free_port)
tansu broker --listener-url "tcp://127.0.0.1:$KAFKA_PORT" --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
  --storage-engine memory://tansu/ > "$WORK/tansu.log" 2>&1 &
PIDS+=($!)
wait_tcp "$KAFKA_PORT"

BRIDGE_PORT=$(free_port); ADMIN_PORT=$(free_port)
cat > "$WORK/vodbridge.toml" <<TOML
[server]
listen = "127.0.0.1:$BRIDGE_PORT"
admin_listen = "127.0.0.1:$ADMIN_PORT"
[log]
level = "warn"
[[sources]]
name = "tencent"
provider = "tencent"
[[sinks]]
name = "kafka"
type = "kafka"
brokers = "127.0.0.1:$KAFKA_PORT"
topic = "{type}"
mode = "binary"
create_topics = true
partitions = 3
[dead_letter]
sink = "kafka"
destination = "vodbridge.deadletter"
TOML
target/release/vodbridge run --config "$WORK/vodbridge.toml" > "$WORK/vodbridge.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null || { cat "$WORK/vodbridge.log" >&2; exit 1; }

# Sanity, and it creates the topic both programs write to.
curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' --data-binary @"$BODY" "http://127.0.0.1:$BRIDGE_PORT/v1/callbacks/tencent"

run_bridge() {
  local out rps p99 errors
  out=$(BENCH_BODY="$BODY" BENCH_PATH=/v1/callbacks/tencent wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency \
        -s scripts/bench/fresh_id.lua "http://127.0.0.1:$BRIDGE_PORT")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx/ {print $5}' <<<"$out"); errors=${errors:-0}
  echo "vodbridge rate=$rps/s p99=$p99 non2xx=$errors"
  echo "vodbridge $rps" >> "$WORK/results"
}

run_bare() {
  local out rate
  out=$(BROKERS="127.0.0.1:$KAFKA_PORT" TOPIC=vod.media.uploaded CONCURRENCY="$CONNECTIONS" DURATION_SECS="$DURATION" \
        EVENT="$EVENT" target/release/examples/bare_producer)
  echo "$out"
  rate=$(sed -n 's/.* rate=\([0-9.]*\)\/s.*/\1/p' <<<"$out")
  echo "bare $rate" >> "$WORK/results"
}

for _ in $(seq "$ROUNDS"); do
  run_bare
  run_bridge
done

python3 - "$WORK/results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, rps = line.split()
    runs.setdefault(name, []).append(float(rps))
b, v = statistics.median(runs["bare"]), statistics.median(runs["vodbridge"])
print(f"median acknowledged events/s: bare_producer={b:.0f} vodbridge={v:.0f} ratio={v / b:.2f}")
PY
