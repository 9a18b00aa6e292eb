# Shell helpers shared by scripts/checks/*.sh and scripts/bench/*.sh; source it from the repository
# root (`. scripts/lib.sh`).

# A free TCP port on the loopback interface.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_tcp PORT: wait (up to 10 s) until something accepts connections on 127.0.0.1:PORT.
wait_tcp() {
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "nothing listens on 127.0.0.1:$1" >&2
  return 1
}

# wait_ready PID ADMIN_PORT LOG: wait (up to 30 s) until the bridge with PID answers 2xx on
# /readyz; fail with its log when it exits first or never gets ready.
wait_ready() {
  for _ in $(seq 300); do
    curl -fsS "http://127.0.0.1:$2/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$1" 2>/dev/null || { cat "$3" >&2; echo "vodbridge exited early" >&2; return 1; }
    sleep 0.1
  done
  cat "$3" >&2
  echo "vodbridge never became ready" >&2
  return 1
}

# file_bridge_config DIR LISTEN_PORT ADMIN_PORT [SERVER_LINES] [SINK_LINES]: print a bridge
# configuration for load and API checks: both vendors' sources without authentication, one file
# sink writing DIR/data/events.jsonl (dead letters to DIR/data/deadletter.jsonl). SERVER_LINES and
# SINK_LINES are extra TOML lines for `[server]` and the file sink (`rotate_bytes = 0`, …); more
# sinks can be appended to the output.
file_bridge_config() {
  cat <<TOML
[server]
listen = "127.0.0.1:$2"
admin_listen = "127.0.0.1:$3"
${4:-}
[log]
level = "warn"
[[sources]]
name = "tencent"
provider = "tencent"
[[sources]]
name = "volcengine"
provider = "volcengine"
[dead_letter]
sink = "local"
destination = "$1/data/deadletter.jsonl"
[[sinks]]
name = "local"
type = "file"
path = "$1/data/events.jsonl"
${5:-}
TOML
}
