#!/usr/bin/env bash
# HTTP -> JetStream, side by side: vodbridge (Tencent callback route, NATS sink awaiting PubAcks)
# against the bare axum handler that publishes the same body to JetStream and awaits the PubAck
# (/work/shared/bench/limits, mode `jetstream`). Same wrk load, same bodies (a fixture with a
# fresh media id per request), alternating runs, one private nats-server -js for both.
#
#   scripts/bench/nats.sh            # ROUNDS=2 DURATION=15s CONNECTIONS=64 THREADS=2 WARMUP=5s SETTLE=5
#
# Prints one line per run and the ratio of the medians. Needs wrk and nats-server on PATH
# (/usr/sbin is searched too) and builds both servers in release mode.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-5s}
SETTLE=${SETTLE:-5}
LIMITS_DIR=${LIMITS_DIR:-/work/shared/bench/limits}
BODY=${BODY:-$ROOT/tests/fixtures/tencent/new_file_upload.json}
export PATH="$PATH:/usr/sbin"

command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk" >&2; exit 1; }
command -v nats-server >/dev/null || { echo "nats-server missing: apt-get install -y nats-server" >&2; exit 1; }

cargo build --release -p vodbridge --bin vodbridge
cargo build --release --manifest-path "$LIMITS_DIR/Cargo.toml" --target-dir target/limits

. scripts/lib.sh
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

NATS_PORT=$(free_port)
nats-server -js -a 127.0.0.1 -p "$NATS_PORT" -sd "$WORK/store" -l "$WORK/nats.log" &
PIDS+=($!)
wait_tcp "$NATS_PORT"

BRIDGE_PORT=$(free_port); ADMIN_PORT=$(free_port); LIMITS_PORT=$(free_port)
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
name = "nats"
type = "nats"
url = "nats://127.0.0.1:$NATS_PORT"
subject = "{type}"
jetstream = true
[sinks.stream]
name = "VOD"
subjects = ["vod.>", "deadletter.>"]
max_age = "1h"
[dead_letter]
sink = "nats"
destination = "deadletter.vod"
TOML
target/release/vodbridge run --config "$WORK/vodbridge.toml" > "$WORK/vodbridge.log" 2>&1 &
PIDS+=($!)
LIMITS_LISTEN=127.0.0.1:$LIMITS_PORT NATS_URL=127.0.0.1:$NATS_PORT target/limits/release/limits jetstream \
  > "$WORK/limits.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 200); do
  curl -sf "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null && (exec 3<>/dev/tcp/127.0.0.1/$LIMITS_PORT) 2>/dev/null && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null || { cat "$WORK/vodbridge.log" >&2; exit 1; }

# Sanity: one request to each must be acknowledged.
curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' --data-binary @"$BODY" "http://127.0.0.1:$BRIDGE_PORT/v1/callbacks/tencent"
curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' --data-binary @"$BODY" "http://127.0.0.1:$LIMITS_PORT/"

RUN=0
wrk_once() { # duration url path
  RUN=$((RUN + 1))
  BENCH_RUN=$RUN BENCH_BODY="$BODY" BENCH_PATH="$3" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$1" --latency \
    -s scripts/bench/fresh_id.lua "$2"
}

run() { # name url path
  local out
  # Let nats-server finish writing the previous run's messages before the next run starts, or
  # that work would count against whichever server runs next.
  sleep "$SETTLE"
  out=$(wrk_once "$DURATION" "$2" "$3")
  local rps p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx/ {print $5}' <<<"$out"); errors=${errors:-0}
  echo "$1 rps=$rps p99=$p99 non2xx=$errors"
  echo "$1 $rps" >> "$WORK/results"
}

# Warm-up, not recorded: both servers' first seconds (connections, allocator pages, the stream's
# first blocks) would otherwise count against whichever runs first.
wrk_once "$WARMUP" "http://127.0.0.1:$LIMITS_PORT" / > /dev/null
wrk_once "$WARMUP" "http://127.0.0.1:$BRIDGE_PORT" /v1/callbacks/tencent > /dev/null

for r in $(seq "$ROUNDS"); do
  run limits "http://127.0.0.1:$LIMITS_PORT" /
  run vodbridge "http://127.0.0.1:$BRIDGE_PORT" /v1/callbacks/tencent
done

python3 - "$WORK/results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, rps = line.split()
    runs.setdefault(name, []).append(float(rps))
l, v = statistics.median(runs["limits"]), statistics.median(runs["vodbridge"])
print(f"median rps: limits={l:.0f} vodbridge={v:.0f} ratio={v / l:.2f}")
PY
