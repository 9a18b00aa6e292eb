#!/usr/bin/env bash
# HTTP -> JetStream, side by side, three servers under the same wrk load with the same bodies (a
# fixture with a fresh media id per request):
#   limits     the bare axum handler that publishes the body to JetStream and awaits the PubAck
#              (/work/shared/bench/limits, mode `jetstream`): the issue's yardstick;
#   floor      that handler changed only in what it publishes: the bridge's message for the same
#              callback (the CloudEvent around the body, Content-Type, a fresh Nats-Msg-Id;
#              crates/sink-nats/examples/contract_floor.rs), with none of the bridge's own work;
#   vodbridge  the Tencent callback route, NATS sink awaiting PubAcks.
# Every run gets its own fresh nats-server -js (new store), a warm-up that is not recorded and a
# measured run, so no server pays for another's stored messages or for a stream limit the other
# never reaches. The servers alternate within each round.
#
#   scripts/bench/nats.sh            # ROUNDS=2 DURATION=15s CONNECTIONS=64 THREADS=2 WARMUP=5s
#
# Prints one line per run, the medians and their ratios. Needs wrk and nats-server on PATH
# (/usr/sbin is searched too) and builds the three servers in release mode.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-5s}
LIMITS_DIR=${LIMITS_DIR:-/work/shared/bench/limits}
BODY=${BODY:-$ROOT/tests/fixtures/tencent/new_file_upload.json}
export PATH="$PATH:/usr/sbin"

command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk" >&2; exit 1; }
command -v nats-server >/dev/null || { echo "nats-server missing: apt-get install -y nats-server" >&2; exit 1; }

cargo build --release -p vodbridge --bin vodbridge
cargo build --release -p vodbridge-sink-nats --example contract_floor
cargo build --release --manifest-path "$LIMITS_DIR/Cargo.toml" --target-dir target/limits

. scripts/lib.sh
WORK=$(mktemp -d)
PIDS=()
. scripts/bench/nats_servers.sh
trap 'stop_servers; rm -rf "$WORK"' EXIT

run() { # name
  start_server "$1"
  # Warm-up, not recorded: a server's first seconds (connections, allocator pages, the stream's
  # first blocks) are slower than its steady state.
  local warm out rps p99 errors stored
  warm=$(wrk_once "$WARMUP" "$URL" "$URL_PATH")
  out=$(wrk_once "$DURATION" "$URL" "$URL_PATH")
  stop_servers
  # The reference's stream keeps at most 1 000 000 messages; past that nats-server deletes one
  # for each new one, work the other servers' streams (limited by age) never cause.
  stored=$(( $(awk '/requests in/ {print $1}' <<<"$warm") + $(awk '/requests in/ {print $1}' <<<"$out") ))
  if [ "$1" = limits ] && [ "$stored" -ge 1000000 ]; then
    echo "warning: the reference stored $stored messages, past its stream's cap; shorten WARMUP or DURATION" >&2
  fi
  read -r rps p99 errors <<<"$(wrk_figures "$out")"
  echo "$1 rps=$rps p99=$p99 non2xx=$errors"
  echo "$1 $rps" >> "$WORK/results"
}

for r in $(seq "$ROUNDS"); do
  run limits
  run floor
  run vodbridge
done

python3 - "$WORK/results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, rps = line.split()
    runs.setdefault(name, []).append(float(rps))
l, f, v = (statistics.median(runs[n]) for n in ("limits", "floor", "vodbridge"))
print(f"median rps: limits={l:.0f} floor={f:.0f} vodbridge={v:.0f}")
print(f"ratios: vodbridge/limits={v / l:.2f} floor/limits={f / l:.2f} vodbridge/floor={v / f:.2f}")
PY
