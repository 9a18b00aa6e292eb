# The servers of the HTTP -> JetStream benchmarks, shared by scripts/bench/nats.sh, nats_cpu.sh,
# spool.sh and backfill.sh. Source it from the repository root after scripts/lib.sh, with WORK (a scratch
# directory), BODY (the fixture) and PIDS (an array) set; the release builds must exist.
#
#   start_server NAME   NAME is limits, floor, vodbridge or spooled (vodbridge with a [spool],
#                       its max_bytes from SPOOL_MAX_BYTES when set, and SPOOL_TOML's lines added to
#                       its [spool] section): a fresh nats-server -js (new store
#                       under $WORK) and NAME on it, both added to PIDS; returns once NAME has
#                       acknowledged one request. Sets URL, URL_PATH, SERVER_PID and NATS_PID.
#   start_nats          a fresh nats-server -js (new store under $WORK), added to PIDS; sets
#                       NATS_PORT and NATS_PID once it accepts connections.
#   bridge_nats_toml    the bridge's configuration past [server] and [log]: the `tencent`
#                       source, the NATS sink on NATS_PORT (JetStream, managed stream VOD) and
#                       the dead-letter route on it.
#   stop_servers        stop everything in PIDS, newest first, so each server stops while its
#                       nats-server is still there to flush to.
#   wrk_once D URL PATH [LUA]
#                       one wrk run of D against URL+PATH with THREADS and CONNECTIONS, the
#                       fixture with a fresh media id per request (scripts/bench/fresh_id.lua,
#                       or LUA), runs numbered so ids never repeat across runs.
#   wrk_figures OUTPUT  "RPS P99 NON2XX" of one wrk run's output.

start_nats() {
  rm -rf "$WORK/store"
  NATS_PORT=$(free_port)
  nats-server -js -a 127.0.0.1 -p "$NATS_PORT" -sd "$WORK/store" -l "$WORK/nats.log" &
  NATS_PID=$!; PIDS+=($NATS_PID)
  wait_tcp "$NATS_PORT"
}

bridge_nats_toml() {
  cat <<TOML
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
}

start_server() {
  local port admin_port
  start_nats
  port=$(free_port)
  case $1 in
    limits)
      LIMITS_LISTEN=127.0.0.1:$port NATS_URL=127.0.0.1:$NATS_PORT \
        "${LIMITS_BIN:-target/limits/release/limits}" jetstream > "$WORK/limits.log" 2>&1 &
      SERVER_PID=$!; PIDS+=($SERVER_PID)
      URL_PATH=/ ;;
    floor)
      # The floor's envelope: the bridge's own event for the fixture.
      [ -s "$WORK/event.json" ] ||
        target/release/vodbridge normalize --provider tencent "$BODY" > "$WORK/event.json"
      FLOOR_LISTEN=127.0.0.1:$port NATS_URL=127.0.0.1:$NATS_PORT FLOOR_EVENT="$WORK/event.json" \
        "${FLOOR_BIN:-target/release/examples/contract_floor}" > "$WORK/floor.log" 2>&1 &
      SERVER_PID=$!; PIDS+=($SERVER_PID)
      URL_PATH=/ ;;
    vodbridge|spooled)
      admin_port=$(free_port)
      ADMIN_PORT=$admin_port
      rm -rf "$WORK/spool"
      local spool=""
      # The same bridge with a spool: 200 once fsync'd there, a forwarder publishes to JetStream.
      [ "$1" = spooled ] && spool=$'[spool]\npath = "'"$WORK/spool"'"'
      [ "$1" = spooled ] && [ -n "${SPOOL_MAX_BYTES:-}" ] && spool+=$'\nmax_bytes = "'"$SPOOL_MAX_BYTES"'"'
      [ "$1" = spooled ] && [ -n "${SPOOL_TOML:-}" ] && spool+=$'\n'"$SPOOL_TOML"
      cat > "$WORK/vodbridge.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
admin_listen = "127.0.0.1:$admin_port"
[log]
level = "warn"
$(bridge_nats_toml)
$spool
TOML
      "${VODBRIDGE_BIN:-target/release/vodbridge}" run --config "$WORK/vodbridge.toml" \
        > "$WORK/$1.log" 2>&1 &
      SERVER_PID=$!; PIDS+=($SERVER_PID)
      wait_ready "$SERVER_PID" "$admin_port" "$WORK/$1.log"
      URL_PATH=/v1/callbacks/tencent ;;
    *) echo "unknown server $1" >&2; return 2 ;;
  esac
  URL=http://127.0.0.1:$port
  wait_tcp "$port"
  # One request must be acknowledged (the limits and floor servers create their stream before
  # they listen, so this also waits for that).
  for _ in $(seq 100); do
    curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' --data-binary @"$BODY" \
      "$URL$URL_PATH" && return 0
    sleep 0.1
  done
  echo "$1 never acknowledged a request" >&2; cat "$WORK/$1.log" >&2; return 1
}

stop_servers() {
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill "${PIDS[i]}" 2>/dev/null || true; wait "${PIDS[i]}" 2>/dev/null || true
  done
  PIDS=()
}

RUN=0
wrk_once() {
  RUN=$((RUN + 1))
  BENCH_RUN=$RUN BENCH_BODY="$BODY" BENCH_PATH="$3" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$1" --latency \
    -s "${4:-scripts/bench/fresh_id.lua}" "$2"
}

wrk_figures() {
  local rps p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$1")
  p99=$(awk '$1=="99%" {print $2}' <<<"$1")
  errors=$(awk '/Non-2xx/ {print $5}' <<<"$1")
  echo "$rps $p99 ${errors:-0}"
}
