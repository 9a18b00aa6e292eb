#!/usr/bin/env bash
# HTTP -> spool -> JetStream against HTTP -> JetStream direct, side by side: the same bridge and
# configuration, once without and once with a [spool], alternating within each round under the
# same wrk load (a fixture with a fresh media id per request). Each run gets a fresh nats-server
# and a fresh spool, a warm-up that is not recorded and a measured run. After the measured run of
# the spooled bridge, the script waits until the forwarder has published everything and reports
# how far behind it was, so the figure is sustained end-to-end throughput, not only ingest.
#
#   scripts/bench/spool.sh           # ROUNDS=3 DURATION=15s CONNECTIONS=64 THREADS=2 WARMUP=5s
#
# Then the drain: with JetStream stopped, the spooled bridge takes OUTAGE (default 60s) of load
# at about RATE callbacks/s (default 2000, paced by wrk's connections and a Lua delay), JetStream
# comes back, and the backlog's drain rate is read from vodbridge_spool_lag_events while the
# same load goes on.
#
# Each round also measures the disk alone (scripts/bench/fsync_floor.py: append 32 KiB, about one
# group commit, and fdatasync, in a loop): the least any spool that answers after an fsync waits.
# The bridge's peak RSS (VmHWM) is read at the end of every run.
#
# BASELINE_BIN=path and/or BASELINE_SPOOL='key = value' add, in each round, a third run: the
# spooled bridge from that binary (an earlier build) and/or with those lines in its [spool], so a
# change is measured against what it replaces in one run.
# OUTAGE=0 skips the drain.
#
# Last, the restart with a large backlog: JetStream stopped, MILLION (default 1000000; 0 skips it)
# callbacks spooled at full speed, the bridge SIGKILLed and started again on that spool, JetStream
# back: RSS is sampled throughout (load, recovery, drain) and the drain timed.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-5s}
OUTAGE=${OUTAGE:-60}
RATE=${RATE:-2000}
MILLION=${MILLION:-1000000}
BODY=${BODY:-$ROOT/tests/fixtures/tencent/new_file_upload.json}
export PATH="$PATH:/usr/sbin"

command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk" >&2; exit 1; }
command -v nats-server >/dev/null || { echo "nats-server missing: apt-get install -y nats-server" >&2; exit 1; }
cargo build --release -p vodbridge --bin vodbridge

. scripts/lib.sh
WORK=$(mktemp -d)
PIDS=()
. scripts/bench/nats_servers.sh
trap 'stop_servers; rm -rf "$WORK"' EXIT

metric() { # name: its value; stops the benchmark when it cannot be read (the bridge is gone)
  local v
  v=$(curl -sf "http://127.0.0.1:$ADMIN_PORT/metrics" | awk -v m="$1" '$1==m {print $2}')
  [ -n "$v" ] || { echo "cannot read $1 from the bridge" >&2; kill $$; exit 1; }
  echo "$v"
}

# Until the forwarder has published again after JetStream came back (the sink's reconnect
# backoff is not drain time); prints how long that took.
wait_forwarding() {
  local before t0
  before=$(metric 'vodbridge_spool_forwarded_events_total{sink="nats"}')
  t0=$(date +%s.%N)
  while [ "$(metric 'vodbridge_spool_forwarded_events_total{sink="nats"}')" = "$before" ]; do sleep 0.05; done
  echo "forwarding again $(echo "$(date +%s.%N) - $t0" | bc) s after JetStream came back"
}

rss_kib() { # pid field: VmRSS or VmHWM of the process, in KiB (0 when it is gone)
  awk -v f="$2:" '$1==f {print $2}' "/proc/$1/status" 2>/dev/null || echo 0
}

run() { # label [server]: server (default: label) is vodbridge or spooled
  local server=${2:-$1}
  start_server "$server"
  local out rps p99 errors lag=0 drain_s=0 t0
  wrk_once "$WARMUP" "$URL" "$URL_PATH" > /dev/null
  out=$(wrk_once "$DURATION" "$URL" "$URL_PATH")
  local per_commit=""
  if [ "$server" = spooled ]; then
    per_commit=" events_per_commit=$(echo "scale=1; $(metric vodbridge_spool_commit_batch_events_sum) / $(metric vodbridge_spool_commit_batch_events_count)" | bc)"
    lag=$(metric 'vodbridge_spool_lag_events{sink="nats"}')
    t0=$(date +%s.%N)
    while [ "$(metric 'vodbridge_spool_lag_events{sink="nats"}')" != 0 ]; do sleep 0.05; done
    drain_s=$(echo "$(date +%s.%N) - $t0" | bc)
  fi
  local hwm
  hwm=$(rss_kib "$SERVER_PID" VmHWM)
  stop_servers
  read -r rps p99 errors <<<"$(wrk_figures "$out")"
  echo "$1 rps=$rps p99=$p99 non2xx=$errors lag_at_end=$lag drained_in=${drain_s}s peak_rss=$((hwm / 1024))MiB$per_commit"
  echo "$1 $rps $p99 $lag $drain_s" >> "$WORK/results"
}

for _ in $(seq "$ROUNDS"); do
  run vodbridge
  run spooled
  if [ -n "${BASELINE_BIN:-}${BASELINE_SPOOL:-}" ]; then
    VODBRIDGE_BIN=${BASELINE_BIN:-target/release/vodbridge} SPOOL_TOML=${BASELINE_SPOOL:-} run baseline spooled
  fi
  python3 scripts/bench/fsync_floor.py "$WORK/fsync.test" "${DURATION%s}" 32768
done

python3 - "$WORK/results" "${DURATION%s}" <<'PY'
import statistics, sys
def ms(t):
    return float(t[:-2]) if t.endswith("ms") else float(t[:-2]) / 1000 if t.endswith("us") else float(t[:-1]) * 1000
runs = {}
for line in open(sys.argv[1]):
    name, rps, p99, lag, drain = line.split()
    runs.setdefault(name, []).append((float(rps), ms(p99), float(lag), float(drain)))
duration = float(sys.argv[2])
d = statistics.median(r[0] for r in runs["vodbridge"])
s = statistics.median(r[0] for r in runs["spooled"])
# End to end: what was accepted in the measured run, over the run plus the time its backlog took.
e2e = statistics.median(r[0] * duration / (duration + r[3]) for r in runs["spooled"])
dp = statistics.median(r[1] for r in runs["vodbridge"])
sp = statistics.median(r[1] for r in runs["spooled"])
print(f"median rps: direct={d:.0f} spooled(ingest)={s:.0f} spooled(end-to-end)={e2e:.0f}")
print(f"ratios: ingest/direct={s / d:.2f} end-to-end/direct={e2e / d:.2f}; p99 ms: direct={dp:.2f} spooled={sp:.2f}")
# Per round (runs alternate, so the machine's drift hits both sides of each ratio alike).
for name in [n for n in ("spooled", "baseline") if n in runs]:
    ratios = [s[0] / v[0] for s, v in zip(runs[name], runs["vodbridge"])]
    print(f"{name}/direct per round: {' '.join(f'{r:.2f}' for r in ratios)} (median {statistics.median(ratios):.2f}); "
          f"p99 ms: {' '.join(f'{r[1]:.1f}' for r in runs[name])}")
PY
[ "$OUTAGE" -gt 0 ] || exit 0

# The drain after an outage.
start_server spooled
kill "$NATS_PID"; wait "$NATS_PID" 2>/dev/null || true
cat > "$WORK/paced.lua" <<LUA
-- fresh_id.lua, with each connection pausing so that all together send about $RATE/s.
dofile("$ROOT/scripts/bench/fresh_id.lua")
local pause = $CONNECTIONS * 1000 / $RATE
function delay() return pause end
LUA
wrk_once "$((OUTAGE + 60))s" "$URL" "$URL_PATH" "$WORK/paced.lua" > "$WORK/paced.out" &
WRK=$!
sleep "$OUTAGE"
backlog=$(metric 'vodbridge_spool_lag_events{sink="nats"}')
nats-server -js -a 127.0.0.1 -p "$NATS_PORT" -sd "$WORK/store" -l "$WORK/nats.log" &
PIDS+=($!)
wait_forwarding
t0=$(date +%s.%N)
while true; do
  sleep 1
  lag=$(metric 'vodbridge_spool_lag_events{sink="nats"}')
  now=$(date +%s.%N)
  [ "${lag%.*}" -lt 2000 ] && break
  [ "$(echo "$now - $t0 > 60" | bc)" = 1 ] && { echo "backlog not drained within 60 s (lag $lag)"; break; }
done
secs=$(echo "$now - $t0" | bc)
wait "$WRK" || true
read -r accepted_rps _ <<<"$(wrk_figures "$(cat "$WORK/paced.out")")"
python3 - "$backlog" "$secs" "$accepted_rps" <<'PY'
import sys
backlog, secs, rate = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
# Forwarded in that time = the backlog plus what kept arriving, minus what was left (< 2000).
print(f"outage backlog {backlog:.0f} events at {rate:.0f} callbacks/s; caught up in {secs:.1f} s "
      f"while the load went on: drain rate >= {(backlog + rate * secs - 2000) / secs:.0f} events/s")
PY

[ "$MILLION" -gt 0 ] || exit 0
# The restart with a large backlog: the spool must hold it (about 2.3 KiB per event).
SPOOL_MAX_BYTES=$((MILLION * 4 / 1024 + 64))MiB start_server spooled
kill "$NATS_PID"; wait "$NATS_PID" 2>/dev/null || true
sample_rss() { # pid...: the highest VmRSS seen, in KiB, every 0.2 s until killed, into $WORK/rss
  local peak=0 r
  while true; do
    for pid in "$@"; do r=$(rss_kib "$pid" VmRSS); [ "${r:-0}" -gt "$peak" ] && peak=$r; done
    echo "$peak" > "$WORK/rss"; sleep 0.2
  done
}
sample_rss "$SERVER_PID" & SAMPLER=$!; PIDS+=($SAMPLER)
t0=$(date +%s.%N)
wrk_once 600s "$URL" "$URL_PATH" > "$WORK/million.out" &
WRK=$!
while [ "$(metric 'vodbridge_spool_lag_events{sink="nats"}' | cut -d. -f1)" -lt "$MILLION" ]; do
  sleep 1
  [ "$(echo "$(date +%s.%N) - $t0 > 600" | bc)" = 1 ] && { echo "not $MILLION events spooled within 600 s" >&2; exit 1; }
done
kill "$WRK" 2>/dev/null; wait "$WRK" 2>/dev/null || true
spooled_s=$(echo "$(date +%s.%N) - $t0" | bc)
backlog=$(metric 'vodbridge_spool_lag_events{sink="nats"}')
load_peak=$(cat "$WORK/rss"); kill "$SAMPLER"; wait "$SAMPLER" 2>/dev/null || true
du_spool=$(du -sm "$WORK/spool" | cut -f1)
# SIGKILL, then the same bridge on the same spool, JetStream still down: recovery.
kill -9 "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
t0=$(date +%s.%N)
"${VODBRIDGE_BIN:-target/release/vodbridge}" run --config "$WORK/vodbridge.toml" >> "$WORK/spooled.log" 2>&1 &
SERVER_PID=$!; PIDS+=($SERVER_PID)
sample_rss "$SERVER_PID" & SAMPLER=$!; PIDS+=($SAMPLER)
wait_ready "$SERVER_PID" "$ADMIN_PORT" "$WORK/spooled.log"
ready_s=$(echo "$(date +%s.%N) - $t0" | bc)
sleep 2
recovery_peak=$(cat "$WORK/rss")
nats-server -js -a 127.0.0.1 -p "$NATS_PORT" -sd "$WORK/store" -l "$WORK/nats.log" &
PIDS+=($!)
wait_forwarding
t0=$(date +%s.%N)
while [ "$(metric 'vodbridge_spool_lag_events{sink="nats"}' | cut -d. -f1)" -gt 0 ]; do
  sleep 0.5
  [ "$(echo "$(date +%s.%N) - $t0 > 600" | bc)" = 1 ] && { echo "backlog not drained within 600 s"; break; }
done
drain_s=$(echo "$(date +%s.%N) - $t0" | bc)
drain_peak=$(cat "$WORK/rss"); kill "$SAMPLER"; wait "$SAMPLER" 2>/dev/null || true
echo "large backlog: ${backlog%.*} events (${du_spool} MiB on disk) spooled in ${spooled_s%.*} s, peak RSS $((load_peak / 1024)) MiB;" \
  "after SIGKILL ready in ${ready_s} s, peak RSS $((recovery_peak / 1024)) MiB;" \
  "drained in ${drain_s%.*} s ($(echo "${backlog%.*} / $drain_s" | bc) events/s), peak RSS $((drain_peak / 1024)) MiB"
