#!/usr/bin/env bash
# Load smoke: the real binary under a short, modest, fixed-rate mixed load must answer every
# request as expected and store every acknowledged event.
#
# Starts vodbridge (file sink, both vendor routes, ports on free loopback ports, data in a
# temporary directory), runs vodbridge-loadgen at RATE requests/s (default 200) for DURATION
# (seconds, default 20, at most 30) after a 2 s warm-up, with BAD_SHARE percent (default 2) of bodies
# the normalizer rejects, then requires:
#   - zero errors (every good body answered 200, every bad one 400; no 5xx, no timeout) and no
#     request left unsent;
#   - every acknowledged event's id present in the file sink output (ids recomputed by the load
#     generator from the bodies it sent);
#   - at least one dead letter per refused bad body;
#   - the bridge still running, and exiting 0 on SIGTERM.
# Uses the debug binaries when built (scripts/test.sh builds them), else the release ones, else
# builds the debug ones. Exits non-zero when any of the above does not hold.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
RATE=${RATE:-200}
DURATION=${DURATION:-20}
BAD_SHARE=${BAD_SHARE:-2}

# Bound the load: whole seconds, at most 30, whatever DURATION says.
[[ "$DURATION" =~ ^[0-9]+$ ]] && [ "$DURATION" -ge 1 ] && [ "$DURATION" -le 30 ] \
  || { echo "DURATION=$DURATION: give whole seconds, 1 to 30" >&2; exit 1; }

pick() { # the first profile that has both binaries
  for profile in debug release; do
    if [ -x "target/$profile/vodbridge" ] && [ -x "target/$profile/vodbridge-loadgen" ]; then
      echo "$profile"; return
    fi
  done
}
PROFILE=$(pick)
if [ -z "$PROFILE" ]; then
  cargo build -q -p vodbridge -p vodbridge-loadgen --bins
  PROFILE=debug
fi
BIN=$ROOT/target/$PROFILE/vodbridge
LOADGEN=$ROOT/target/$PROFILE/vodbridge-loadgen

. scripts/lib.sh
WORK=$(mktemp -d)
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

LISTEN=$(free_port); ADMIN=$(free_port)
file_bridge_config "$WORK" "$LISTEN" "$ADMIN" "" "rotate_bytes = 0" > "$WORK/vodbridge.toml"
"$BIN" run --config "$WORK/vodbridge.toml" 2>"$WORK/vodbridge.log" &
PID=$!
wait_ready "$PID" "$ADMIN" "$WORK/vodbridge.log"

echo "load smoke: $PROFILE binaries, $RATE req/s for ${DURATION}s, $BAD_SHARE % bad bodies"
status=0
"$LOADGEN" --target "127.0.0.1:$LISTEN" --fixtures "$ROOT/tests/fixtures" \
  --rate "$RATE" --duration "${DURATION}s" --warmup 2s --report-every 5s --timeout 10s \
  --bad-share "$BAD_SHARE" --pid "$PID" --fail-on-error \
  --verify-events "$WORK/data/events.jsonl" --verify-deadletters "$WORK/data/deadletter.jsonl" \
  --json "$WORK/load.json" || status=$?
[ "$status" = 0 ] || { tail -n 20 "$WORK/vodbridge.log" >&2; echo "load smoke FAILED (loadgen exit $status)" >&2; exit 1; }

kill -0 "$PID" 2>/dev/null || { cat "$WORK/vodbridge.log" >&2; echo "vodbridge died under load" >&2; exit 1; }
kill -TERM "$PID"
status=0; wait "$PID" || status=$?
PID=""
[ "$status" = 0 ] || { tail -n 20 "$WORK/vodbridge.log" >&2; echo "exit status $status after SIGTERM" >&2; exit 1; }
echo "load smoke passed"
