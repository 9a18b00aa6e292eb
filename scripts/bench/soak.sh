#!/usr/bin/env bash
# Soak: the release bridge under a long mixed load, with every acknowledged event checked in
# the sinks and its memory followed from start to end.
#
#   scripts/bench/soak.sh                              # DURATION=5m RATE=2000 (fixed rate)
#   DURATION=3m RATE=2000 scripts/bench/soak.sh
#   MODE=max CONCURRENCY=64 DURATION=60s scripts/bench/soak.sh    # maximum rate, closed loop
#   NATS=1 scripts/bench/soak.sh                       # also a JetStream sink
#
# Builds vodbridge and vodbridge-loadgen in release mode, starts the bridge with a file sink
# (and with NATS=1 a JetStream sink on a private `nats-server -js` on a free port; dead letters
# go to a file), runs the load generator for WARMUP (default 10s) plus DURATION (default 5m, at
# most MAX_DURATION, default 2h) and prints one line per REPORT_EVERY (default 10s): acked/s,
# latency p50/p90/p99/p99.9/max, errors by class, bridge RSS. Then it checks that every
# acknowledged event is in the file sink (by id), that the JetStream stream holds at least as
# many messages as events were acknowledged, that every refused bad body (BAD_SHARE percent,
# default 0) is a dead letter, and that the bridge exits 0 on SIGTERM; and prints RSS
# start/peak/end and the load average. Exits non-zero when a check fails.
#
# Other knobs: THREADS (load generator worker threads, default 1), MAX_IN_FLIGHT (fixed rate,
# default 512), BUILD=0 uses the release binaries already built, KEEP=1 keeps the work directory (config, logs, sink files, soak.json), JSON=path
# copies the loadgen's JSON report there. Everything runs on loopback only.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
MODE=${MODE:-rate}
RATE=${RATE:-2000}
CONCURRENCY=${CONCURRENCY:-64}
MAX_IN_FLIGHT=${MAX_IN_FLIGHT:-512}
DURATION=${DURATION:-5m}
MAX_DURATION=${MAX_DURATION:-2h}
WARMUP=${WARMUP:-10s}
REPORT_EVERY=${REPORT_EVERY:-10s}
BAD_SHARE=${BAD_SHARE:-0}
THREADS=${THREADS:-1}
NATS=${NATS:-0}
KEEP=${KEEP:-0}
export PATH="$PATH:/usr/sbin"

secs() { python3 - "$1" <<'PY'
import re, sys
m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)?", sys.argv[1].strip())
if not m:
    sys.exit(f"not a duration: {sys.argv[1]!r} (e.g. 90s, 5m, 1h)")
print(float(m[1]) * {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600}[m[2]])
PY
}
python3 -c 'import sys; sys.exit(0 if 0 < float(sys.argv[1]) <= float(sys.argv[2]) else 1)' \
  "$(secs "$DURATION")" "$(secs "$MAX_DURATION")" \
  || { echo "DURATION=$DURATION is outside (0, MAX_DURATION=$MAX_DURATION]" >&2; exit 1; }
case $MODE in
  rate) PACING=(--rate "$RATE" --max-in-flight "$MAX_IN_FLIGHT") ;;
  max) PACING=(--concurrency "$CONCURRENCY") ;;
  *) echo "MODE must be rate or max" >&2; exit 1 ;;
esac
if [ "$NATS" = 1 ]; then
  command -v nats-server >/dev/null || { echo "nats-server missing: apt-get install -y nats-server" >&2; exit 1; }
fi

if [ "${BUILD:-1}" = 1 ]; then
  cargo build --release -p vodbridge -p vodbridge-loadgen --bins
fi

. scripts/lib.sh
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if [ "$KEEP" = 1 ]; then echo "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

BRIDGE_PORT=$(free_port); ADMIN_PORT=$(free_port)
# Never rotate: the check reads every event back.
file_bridge_config "$WORK" "$BRIDGE_PORT" "$ADMIN_PORT" "" "rotate_bytes = 0" > "$WORK/vodbridge.toml"

if [ "$NATS" = 1 ]; then
  NATS_PORT=$(free_port); NATS_MON=$(free_port)
  nats-server -js -a 127.0.0.1 -p "$NATS_PORT" -m "$NATS_MON" -sd "$WORK/nats" -l "$WORK/nats.log" &
  PIDS+=($!)
  wait_tcp "$NATS_PORT"
  # Only events in the stream (dead letters go to the file): the bridge uses the event id as
  # Nats-Msg-Id, and repeated identical bad bodies share a dead-letter id that JetStream would
  # deduplicate, which would make the count check meaningless.
  cat >> "$WORK/vodbridge.toml" <<TOML
[[sinks]]
name = "nats"
type = "nats"
url = "nats://127.0.0.1:$NATS_PORT"
subject = "{type}"
jetstream = true
[sinks.stream]
name = "VOD"
subjects = ["vod.>"]
max_age = "2h"
TOML
fi

target/release/vodbridge run --config "$WORK/vodbridge.toml" > "$WORK/vodbridge.log" 2>&1 &
BRIDGE_PID=$!
PIDS=("$BRIDGE_PID" "${PIDS[@]}")
for _ in $(seq 300); do
  curl -sf "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null && break
  kill -0 "$BRIDGE_PID" 2>/dev/null || break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null || { cat "$WORK/vodbridge.log" >&2; exit 1; }

echo "soak: MODE=$MODE ${PACING[*]} DURATION=$DURATION WARMUP=$WARMUP BAD_SHARE=$BAD_SHARE NATS=$NATS THREADS=$THREADS (commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown))"
status=0
target/release/vodbridge-loadgen --target "127.0.0.1:$BRIDGE_PORT" --fixtures "$ROOT/tests/fixtures" \
  "${PACING[@]}" --duration "$DURATION" --warmup "$WARMUP" --report-every "$REPORT_EVERY" \
  --threads "$THREADS" --bad-share "$BAD_SHARE" --pid "$BRIDGE_PID" --fail-on-error \
  --verify-events "$WORK/data/events.jsonl" --verify-deadletters "$WORK/data/deadletter.jsonl" \
  --json "$WORK/soak.json" || status=$?
[ -n "${JSON:-}" ] && [ -f "$WORK/soak.json" ] && cp "$WORK/soak.json" "$JSON"
failed=0
[ "$status" = 0 ] || { echo "loadgen reported a failure (exit $status)"; failed=1; }
[ -f "$WORK/soak.json" ] || { tail -n 20 "$WORK/vodbridge.log" >&2; exit 1; }

if [ "$NATS" = 1 ]; then
  curl -sf "http://127.0.0.1:$NATS_MON/jsz?streams=true" > "$WORK/jsz.json"
  python3 - "$WORK/jsz.json" "$WORK/soak.json" <<'PY' || failed=1
import json, sys
jsz, soak = (json.load(open(p)) for p in sys.argv[1:3])
msgs = sum(s["state"]["messages"] for a in jsz.get("account_details", [])
           for s in a.get("stream_detail", []) if s["name"] == "VOD")
acked = soak["verify_events"]["acked"]
ok = msgs >= acked
print(f"verify JetStream: {acked} acknowledged, {msgs} messages in stream VOD -> "
      f"{'ok' if ok else 'FAILED (messages missing)'}")
sys.exit(0 if ok else 1)
PY
fi

kill -0 "$BRIDGE_PID" 2>/dev/null || { echo "vodbridge died during the soak"; failed=1; }
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$BRIDGE_PID/status" 2>/dev/null || echo 0)
kill -TERM "$BRIDGE_PID"
exit_status=0; wait "$BRIDGE_PID" || exit_status=$?
PIDS=("${PIDS[@]:1}")
[ "$exit_status" = 0 ] || { echo "vodbridge exited $exit_status after SIGTERM"; tail -n 20 "$WORK/vodbridge.log"; failed=1; }

python3 - "$WORK/soak.json" "$hwm" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s, rss, la = r["summary"], r["rss_kib"], r["load_average_end"] or [0, 0, 0]
mib = lambda k: f"{k / 1024:.1f}" if k else "-"
l = s["latency_ms"]
print("\n| mode | acked/s | p50 ms | p99 ms | p99.9 ms | max ms | errors | unsent | RSS start / peak / end MiB | load avg (1m, end) |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|")
st = r["settings"]
mode = f"rate {st['rate']:g}/s" if st["mode"] == "rate" else f"max, {st['concurrency']} conns"
# Peak: the kernel's high-water mark when the load stopped (else the largest sample); the
# high-water mark at shutdown is printed too, since it also covers the verification phase.
peak = rss["hwm_kib"] or rss["peak_sampled_kib"]
print(f"| {mode} | {s['acked_per_sec']:.0f} | {l['p50']:.2f} | {l['p99']:.2f} | {l['p999']:.2f} | {l['max']:.1f} "
      f"| {s['errors']['total']} | {r['unsent']} | {mib(rss['start_kib'])} / {mib(peak)} / {mib(rss['end_kib'])} | {la[0]:.2f} |")
print(f"bridge VmHWM at shutdown: {mib(int(sys.argv[2] or 0))} MiB")
PY
[ "$failed" = 0 ] && echo "soak passed" || { echo "soak FAILED"; exit 1; }
