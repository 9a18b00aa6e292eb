#!/usr/bin/env bash
# CPU per acknowledged HTTP -> JetStream event, for one server of scripts/bench/nats.sh: the
# server's and nats-server's utime + stime from /proc over one wrk run, divided by the requests.
# A fresh nats-server per invocation, a warm-up that is not counted, the same load and bodies as
# nats.sh. Alternate invocations (and binaries) to compare; the speed of a shared machine drifts.
#
#   scripts/bench/nats_cpu.sh vodbridge|floor|limits
#       VODBRIDGE_BIN, FLOOR_BIN, LIMITS_BIN   the server binary (default: the release builds
#                     nats.sh makes), e.g. an older build to compare with
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
. scripts/lib.sh
WORK=$(mktemp -d)
PIDS=()
. scripts/bench/nats_servers.sh
trap 'stop_servers; rm -rf "$WORK"' EXIT
start_server "$SERVER"

wrk_run() { # run seconds
  BENCH_RUN=$1 BENCH_BODY="$BODY" BENCH_PATH="$URL_PATH" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$2s" \
    -s scripts/bench/fresh_id.lua "$URL"
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

wrk_run 1 "$WARMUP" > /dev/null
sleep 2
server0=$(ticks "$SERVER_PID"); nats0=$(ticks "$NATS_PID")
if [ "${PERF:-}" = 1 ]; then
  perf record -F 999 -g -o "perf.$SERVER.data" -p "$SERVER_PID" -- sleep "$DURATION" > /dev/null 2>&1 &
  PERF_PID=$!
fi
out=$(wrk_run 2 "$DURATION")
server1=$(ticks "$SERVER_PID"); nats1=$(ticks "$NATS_PID")
[ -n "${PERF_PID:-}" ] && wait "$PERF_PID" || true
requests=$(awk '/requests in/ {print $1}' <<<"$out")
rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
python3 - "$SERVER" "$rps" "$requests" "$((server1 - server0))" "$((nats1 - nats0))" "$(getconf CLK_TCK)" <<'PY'
import sys
name, rps, requests, server, nats, hz = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
us = lambda ticks: ticks / hz * 1e6 / requests
print(f"{name} rps={rps} requests={requests} server_us/event={us(server):.1f} nats_us/event={us(nats):.1f}")
PY
