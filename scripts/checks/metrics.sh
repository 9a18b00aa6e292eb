#!/usr/bin/env bash
# /metrics is valid Prometheus exposition: start the real binary with its embedded default
# configuration (ports moved to free ones through VODBRIDGE_SERVER__* overrides, data written
# under a temporary working directory), post one callback, scrape /metrics, run
# `promtool check metrics` on it, check the expected families are there, then stop the bridge
# with SIGTERM and require exit code 0.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

command -v promtool >/dev/null || { echo "promtool missing: apt-get install -y prometheus" >&2; exit 1; }
cargo build -q -p vodbridge --bin vodbridge
BIN=$ROOT/target/debug/vodbridge

. scripts/lib.sh
WORK=$(mktemp -d)
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

LISTEN=$(free_port); ADMIN=$(free_port)
(cd "$WORK" && VODBRIDGE_SERVER__LISTEN=127.0.0.1:$LISTEN VODBRIDGE_SERVER__ADMIN_LISTEN=127.0.0.1:$ADMIN \
  VODBRIDGE_LOG__LEVEL=warn exec "$BIN") 2>"$WORK/vodbridge.log" &
PID=$!
wait_ready "$PID" "$ADMIN" "$WORK/vodbridge.log"

body='{"EventType":"NewFileUpload","FileUploadEvent":{"FileId":"5285890784273533167"}}'
code=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "$body" "http://127.0.0.1:$LISTEN/v1/callbacks/tencent")
[ "$code" = 200 ] || { echo "callback answered $code, expected 200" >&2; exit 1; }
code=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary 'not json' "http://127.0.0.1:$LISTEN/v1/callbacks/tencent")
[ "$code" = 400 ] || { echo "malformed callback answered $code, expected 400" >&2; exit 1; }
[ -s "$WORK/data/events.jsonl" ] || { echo "no event in data/events.jsonl" >&2; exit 1; }

curl -fsS "http://127.0.0.1:$ADMIN/metrics" > "$WORK/metrics.txt"
promtool check metrics < "$WORK/metrics.txt"
for family in vodbridge_build_info vodbridge_callbacks_received_total vodbridge_events_normalized_total \
  vodbridge_dead_letters_total vodbridge_http_requests_total vodbridge_http_request_duration_seconds_bucket \
  vodbridge_http_in_flight_requests vodbridge_sink_events_published_total vodbridge_file_sink_fsyncs_total \
  vodbridge_traceparent_invalid_total; do
  grep -q "^$family" "$WORK/metrics.txt" || { echo "metric $family missing" >&2; exit 1; }
done
# Every family above exists from start-up (zeros for dashboards); these must also have counted the
# callback and the dead letter.
for family in vodbridge_sink_events_published_total vodbridge_file_sink_fsyncs_total vodbridge_dead_letters_total; do
  awk -v f="$family" '$1 ~ "^" f "({|$)" && $2 >= 1 { found = 1 } END { exit !found }' "$WORK/metrics.txt" ||
    { echo "metric $family never counted past 0" >&2; grep "^$family" "$WORK/metrics.txt" >&2; exit 1; }
done

kill -TERM "$PID"
status=0; wait "$PID" || status=$?
PID=""
[ "$status" = 0 ] || { cat "$WORK/vodbridge.log" >&2; echo "exit status $status after SIGTERM" >&2; exit 1; }
echo "metrics check passed: promtool clean, $(grep -c '^vodbridge_' "$WORK/metrics.txt") vodbridge samples"
