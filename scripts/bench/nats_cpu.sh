#!/usr/bin/env bash
# CPU per acknowledged HTTP -> JetStream event, for one server of scripts/bench/nats.sh: the
# server's and nats-server's utime + stime from /proc over one wrk run, divided by the requests.
# A fresh nats-server per invocation, a warm-up that is not counted, the same load and bodies as
# nats.sh. Alternate invocations (and binaries) to compare; the speed of a shared machine drifts.
#
#   scripts/bench/nats_cpu.sh vodbridge|floor|limits
#       BIN=path      the server binary (default: the release build nats.sh makes)
#       DURATION=12   seconds measured, after WARMUP=5 seconds
#       PERF=1        also `perf record -F 999` the server into perf.<server>.data
#
# Prints: server rps, requests, server µs/event, nats-server µs/event. Build first with
# scripts/bench/nats.sh or the cargo commands it runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SERVER=${1:?usage: nats_cpu.sh vodbridge|floor|limits}
DURATION=${DURATION:-12}
WARMUP=${WARMUP:-5}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
BODY=${BODY:-$ROOT/tests/fixtures/tencent/new_file_upload.json}
export PATH="$PATH:/usr/sbin"
case $SERVER in
  vodbridge) BIN=${BIN:-target/release/vodbridge} ;;
  floor) BIN=${BIN:-target/release/examples/contract_floor} ;;
  limits) BIN=${BIN:-target/limits/release/limits} ;;
  *) echo "unknown server $SERVER" >&2; exit 2 ;;
esac

. scripts/lib.sh
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill "${PIDS[i]}" 2>/dev/null || true; wait "${PIDS[i]}" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

NATS_PORT=$(free_port); PORT=$(free_port)
nats-server -js -a 127.0.0.1 -p "$NATS_PORT" -sd "$WORK/store" -l "$WORK/nats.log" &
NATS_PID=$!; PIDS+=($NATS_PID)
wait_tcp "$NATS_PORT"
case $SERVER in
  vodbridge)
    ADMIN_PORT=$(free_port)
    cat > "$WORK/vodbridge.toml" <<TOML
[server]
listen = "127.0.0.1:$PORT"
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
    "$BIN" run --config "$WORK/vodbridge.toml" > "$WORK/server.log" 2>&1 &
    PID=$!; PIDS+=($PID)
    wait_ready "$PID" "$ADMIN_PORT" "$WORK/server.log"
    URL_PATH=/v1/callbacks/tencent ;;
  floor)
    target/release/vodbridge normalize --provider tencent "$BODY" > "$WORK/event.json"
    FLOOR_LISTEN=127.0.0.1:$PORT NATS_URL=127.0.0.1:$NATS_PORT FLOOR_EVENT="$WORK/event.json" \
      "$BIN" > "$WORK/server.log" 2>&1 &
    PID=$!; PIDS+=($PID)
    URL_PATH=/ ;;
  limits)
    LIMITS_LISTEN=127.0.0.1:$PORT NATS_URL=127.0.0.1:$NATS_PORT "$BIN" jetstream > "$WORK/server.log" 2>&1 &
    PID=$!; PIDS+=($PID)
    URL_PATH=/ ;;
esac
wait_tcp "$PORT"
URL=http://127.0.0.1:$PORT
for _ in $(seq 100); do
  curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' --data-binary @"$BODY" "$URL$URL_PATH" && break
  sleep 0.1
done

wrk_run() { # run seconds
  BENCH_RUN=$1 BENCH_BODY="$BODY" BENCH_PATH="$URL_PATH" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$2s" \
    -s scripts/bench/fresh_id.lua "$URL"
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

wrk_run 1 "$WARMUP" > /dev/null
sleep 2
server0=$(ticks "$PID"); nats0=$(ticks "$NATS_PID")
if [ "${PERF:-}" = 1 ]; then
  perf record -F 999 -g -o "perf.$SERVER.data" -p "$PID" -- sleep "$DURATION" > /dev/null 2>&1 &
  PERF_PID=$!
fi
out=$(wrk_run 2 "$DURATION")
server1=$(ticks "$PID"); nats1=$(ticks "$NATS_PID")
[ -n "${PERF_PID:-}" ] && wait "$PERF_PID" || true
requests=$(awk '/requests in/ {print $1}' <<<"$out")
rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
python3 - "$SERVER" "$rps" "$requests" "$((server1 - server0))" "$((nats1 - nats0))" "$(getconf CLK_TCK)" <<'PY'
import sys
name, rps, requests, server, nats, hz = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
us = lambda ticks: ticks / hz * 1e6 / requests
print(f"{name} rps={rps} requests={requests} server_us/event={us(server):.1f} nats_us/event={us(nats):.1f}")
PY
