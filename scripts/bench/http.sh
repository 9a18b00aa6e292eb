#!/usr/bin/env bash
# HTTP ingest with the file sink, side by side with the bare axum handler (read body, answer 200;
# /work/shared/bench/limits, mode `bare`). Same wrk load, same bodies (several Tencent fixtures, a
# fresh FileId per request), alternating runs. vodbridge answers each callback only after the
# events are fsynced to the JSON Lines file (group commit).
#
#   scripts/bench/http.sh            # ROUNDS=2 DURATION=10s CONNECTIONS=64 THREADS=2
#
# Prints one line per run (requests/s, p50, p99, non-2xx), the medians and their ratio, and the
# peak RSS (VmHWM) of vodbridge. Bounded: 2 x ROUNDS runs of DURATION each on loopback only.
# Installs wrk when missing (Debian) and builds both servers in release mode.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
LIMITS_DIR=${LIMITS_DIR:-$ROOT/../shared/bench/limits}
[ -d "$LIMITS_DIR" ] || LIMITS_DIR=/work/shared/bench/limits
F=$ROOT/tests/fixtures/tencent
BODIES=${BODIES:-$F/new_file_upload.json:$F/procedure_state_changed.json:$F/file_deleted.json}

if ! command -v wrk >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

cargo build --release -p vodbridge --bin vodbridge
cargo build --release --manifest-path "$LIMITS_DIR/Cargo.toml" --target-dir target/limits

. scripts/lib.sh
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

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
name = "local"
type = "file"
path = "$WORK/data/events.jsonl"
[dead_letter]
sink = "local"
destination = "$WORK/data/deadletter.jsonl"
TOML
target/release/vodbridge run --config "$WORK/vodbridge.toml" > "$WORK/vodbridge.log" 2>&1 &
BRIDGE_PID=$!
PIDS+=("$BRIDGE_PID")
LIMITS_LISTEN=127.0.0.1:$LIMITS_PORT target/limits/release/limits bare > "$WORK/limits.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 200); do
  curl -sf "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null && (exec 3<>/dev/tcp/127.0.0.1/$LIMITS_PORT) 2>/dev/null && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null || { cat "$WORK/vodbridge.log" >&2; exit 1; }

# Sanity: each body must be acknowledged by both servers.
IFS=: read -ra FILES <<<"$BODIES"
for b in "${FILES[@]}"; do
  curl -sf -o /dev/null -H 'Content-Type: application/json' --data-binary @"$b" "http://127.0.0.1:$BRIDGE_PORT/v1/callbacks/tencent"
  curl -sf -o /dev/null -H 'Content-Type: application/json' --data-binary @"$b" "http://127.0.0.1:$LIMITS_PORT/"
done

run() { # name url path
  local out rps p50 p99 errors
  out=$(BENCH_BODIES="$BODIES" BENCH_PATH="$3" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
        -s scripts/bench/http.lua "$2")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx/ {print $5}' <<<"$out"); errors=${errors:-0}
  echo "$1 rps=$rps p50=$p50 p99=$p99 non2xx=$errors"
  echo "$1 $rps" >> "$WORK/results"
}

for _ in $(seq "$ROUNDS"); do
  run limits-bare "http://127.0.0.1:$LIMITS_PORT" /
  run vodbridge-file "http://127.0.0.1:$BRIDGE_PORT" /v1/callbacks/tencent
done

# From the metrics, not a line count: the active file is rotated (100 MiB) during long runs.
metrics=$(curl -sf "http://127.0.0.1:$ADMIN_PORT/metrics")
events=$(awk '/^vodbridge_sink_events_published_total\{sink="local"\}/ {print $2}' <<<"$metrics")
fsyncs=$(awk '/^vodbridge_file_sink_fsyncs_total/ {print $2}' <<<"$metrics")
hwm=$(awk '/VmHWM/ {print $2, $3}' "/proc/$BRIDGE_PID/status")
echo "vodbridge: $events events acknowledged by the file sink with $fsyncs fsyncs; peak RSS (VmHWM) $hwm"
python3 - "$WORK/results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, rps = line.split()
    runs.setdefault(name, []).append(float(rps))
l, v = statistics.median(runs["limits-bare"]), statistics.median(runs["vodbridge-file"])
print(f"median rps: limits-bare={l:.0f} vodbridge-file={v:.0f} ratio={v / l:.2f}")
PY
