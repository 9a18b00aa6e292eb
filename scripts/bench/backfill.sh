#!/usr/bin/env bash
# redrive and replay into JetStream, side by side with the receiver's HTTP -> JetStream rate in the
# same run (issue: replay at least 1.0x the receiver's rate).
#
# Inputs, made once by the release bridge itself with a file sink:
#   events.jsonl       canonical events of the Tencent upload fixture, a fresh media id each (wrk
#                      through scripts/bench/fresh_id.lua): what `replay` reads;
#   deadletters.jsonl  the same callbacks sent with `Content-Type: text/html`, which the receiver
#                      answers 415 and keeps as dead letters: what `redrive` re-normalizes.
# Each round then runs, each on a fresh nats-server -js (new store) with the same NATS sink and
# managed stream:
#   receiver  `vodbridge run` under wrk (a warm-up, then DURATION measured), as scripts/bench/nats.sh;
#   replay    `vodbridge replay --input events.jsonl`, timed from start to exit;
#   redrive   `vodbridge redrive --input deadletters.jsonl`, timed from start to exit.
# A command's rate is events published (its summary) over its wall time, start-up included.
#
#   scripts/bench/backfill.sh   # ROUNDS=3 DURATION=15s WARMUP=5s CONNECTIONS=64 THREADS=2 PREP=8s
#                               # BATCH: --batch-size of both commands (default theirs, 500)
#
# Prints one line per run (with the command's peak RSS), the medians and the ratios to the
# receiver. Needs wrk, nats-server (/usr/sbin is searched) and GNU time; builds the release bridge.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-15s}
WARMUP=${WARMUP:-5s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PREP=${PREP:-8s}
BATCH=${BATCH:-}
BODY=${BODY:-$ROOT/tests/fixtures/tencent/new_file_upload.json}
BIN=${VODBRIDGE_BIN:-target/release/vodbridge}
export PATH="$PATH:/usr/sbin"

command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk" >&2; exit 1; }
command -v nats-server >/dev/null || { echo "nats-server missing: apt-get install -y nats-server" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "GNU time missing: apt-get install -y time" >&2; exit 1; }

[ -n "${VODBRIDGE_BIN:-}" ] || cargo build --release -p vodbridge --bin vodbridge

. scripts/lib.sh
WORK=$(mktemp -d)
PIDS=()
. scripts/bench/nats_servers.sh
trap 'stop_servers; rm -rf "$WORK"' EXIT

# The inputs: a bridge with only a file sink, its dead letters in a file beside it.
prepare() {
  local port admin_port
  port=$(free_port); admin_port=$(free_port)
  cat > "$WORK/prep.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
admin_listen = "127.0.0.1:$admin_port"
[log]
level = "warn"
[[sources]]
name = "tencent"
provider = "tencent"
[[sinks]]
name = "file"
type = "file"
path = "$WORK/events.jsonl"
[dead_letter]
sink = "file"
destination = "$WORK/deadletters.jsonl"
TOML
  "$BIN" run --config "$WORK/prep.toml" > "$WORK/prep.log" 2>&1 &
  local pid=$!; PIDS+=($pid)
  wait_ready "$pid" "$admin_port" "$WORK/prep.log"
  wrk_once "$PREP" "http://127.0.0.1:$port" /v1/callbacks/tencent > /dev/null
  BENCH_CONTENT_TYPE=text/html wrk_once "$PREP" "http://127.0.0.1:$port" /v1/callbacks/tencent > /dev/null
  stop_servers
  # The file sink rotates; both commands read the rotated files too.
  echo "inputs: $(cat "$WORK"/events.jsonl* | wc -l) events ($(du -cm "$WORK"/events.jsonl* | tail -1 | cut -f1) MiB)," \
    "$(cat "$WORK"/deadletters.jsonl* | wc -l) dead letters ($(du -cm "$WORK"/deadletters.jsonl* | tail -1 | cut -f1) MiB)"
}

receiver() {
  start_server vodbridge
  local out rps p99 errors
  wrk_once "$WARMUP" "$URL" "$URL_PATH" > /dev/null
  out=$(wrk_once "$DURATION" "$URL" "$URL_PATH")
  stop_servers
  read -r rps p99 errors <<<"$(wrk_figures "$out")"
  echo "receiver rate=$rps p99=$p99 non2xx=$errors"
  echo "receiver $rps" >> "$WORK/results"
}

backfill() { # redrive|replay INPUT
  start_nats
  # The receiver's configuration (scripts/bench/nats_servers.sh), without the listeners.
  cat > "$WORK/backfill.toml" <<TOML
[log]
level = "warn"
$(bridge_nats_toml)
TOML
  local start end rc=0
  start=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$WORK/rss" "$BIN" "$1" --config "$WORK/backfill.toml" --input "$2" \
    ${BATCH:+--batch-size "$BATCH"} > /dev/null 2> "$WORK/$1.err" || rc=$?
  end=$(date +%s.%N)
  stop_servers
  local summary published
  summary=$(grep "^$1: read" "$WORK/$1.err" || true)
  if [ "$rc" -ne 0 ] || [ -z "$summary" ]; then
    echo "$1 exited $rc" >&2; cat "$WORK/$1.err" >&2; exit 1
  fi
  published=$(sed -E 's/.*published ([0-9]+).*/\1/' <<<"$summary")
  local rate
  rate=$(python3 -c "print(f'{$published / ($end - $start):.0f}')")
  echo "$1 rate=$rate published=$published seconds=$(python3 -c "print(f'{$end - $start:.2f}')") rss_kib=$(tail -1 "$WORK/rss")"
  echo "$1 $rate" >> "$WORK/results"
}

prepare
for r in $(seq "$ROUNDS"); do
  receiver
  backfill replay "$WORK/events.jsonl"
  backfill redrive "$WORK/deadletters.jsonl"
done

python3 - "$WORK/results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, rate = line.split()
    runs.setdefault(name, []).append(float(rate))
r, p, d = (statistics.median(runs[n]) for n in ("receiver", "replay", "redrive"))
print(f"median events/s: receiver={r:.0f} replay={p:.0f} redrive={d:.0f}")
print(f"ratios: replay/receiver={p / r:.2f} redrive/receiver={d / r:.2f}")
PY
