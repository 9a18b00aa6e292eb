#!/usr/bin/env bash
# Validates what users deploy with: the compose file, the Kubernetes manifests (the StatefulSet keeps
# the spool on a claim, its grace period covers shutdown_timeout), the Grafana dashboard against its
# generator, the Prometheus alert rules (syntax and unit tests), the shipped configuration files, and
# that every metric the alert rules and the Grafana dashboard query is one the real binary exports.
# For the last check the binary is started and driven through success, bad input, unmapped types, a
# sink outage (a real nats-server killed mid-run) and a failing Tencent poller, then a second one with
# a [spool] takes a callback; /metrics of both is scraped and compared.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PY=${VODBRIDGE_PYTHON:-python3}

echo "-- docker-compose config"
docker-compose -f docker-compose.yml config -q

echo "-- Kubernetes manifests parse and name what they must"
"$PY" - <<'PYEOF'
import pathlib, re, tomllib, yaml
kinds, objs = set(), {}
for path in sorted(pathlib.Path("deploy/kubernetes").glob("*.yaml")):
    for doc in yaml.safe_load_all(path.read_text()):
        assert doc and "kind" in doc and "apiVersion" in doc, f"{path}: not a Kubernetes object"
        kinds.add(doc["kind"])
        objs[(doc["kind"], doc.get("metadata", {}).get("name"))] = doc
need = {"StatefulSet", "Service", "ConfigMap", "Secret", "PodDisruptionBudget", "HorizontalPodAutoscaler", "ServiceMonitor"}
missing = need - kinds
assert not missing, f"missing kinds: {missing}"
kust = yaml.safe_load(pathlib.Path("deploy/kubernetes/kustomization.yaml").read_text())
for res in kust["resources"]:
    assert pathlib.Path("deploy/kubernetes", res).exists(), f"kustomization names missing {res}"
sts = objs[("StatefulSet", "vodbridge")]
spec = sts["spec"]["template"]["spec"]
c = spec["containers"][0]
assert {"livenessProbe", "readinessProbe"} <= c.keys(), "probes missing"
# The pod's spool: [spool] path of the embedded config on a volumeClaimTemplates claim.
config = tomllib.loads(objs[("ConfigMap", "vodbridge")]["data"]["vodbridge.toml"])
spool_path = config["spool"]["path"]
claims = {t["metadata"]["name"] for t in sts["spec"].get("volumeClaimTemplates", [])}
mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
assert mounts.get(spool_path) in claims, f"[spool] path {spool_path} is not on a PersistentVolumeClaim ({mounts}, {claims})"
# Grace period: counted from the preStop hook, it must cover the pause, server.shutdown_timeout (one
# budget for the whole drain) and a few seconds for the process to exit.
def seconds(text):
    return sum(int(n) * {"s": 1, "m": 60, "h": 3600}[u] for n, u in re.findall(r"(\d+)\s*([smh])", text))
shutdown = seconds(config.get("server", {}).get("shutdown_timeout", "30s"))
pre_stop = c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
grace = spec["terminationGracePeriodSeconds"]
assert grace >= pre_stop + shutdown + 5, f"grace period {grace}s < preStop {pre_stop}s + shutdown_timeout {shutdown}s + 5s"
assert spec.get("securityContext", {}).get("fsGroup") == spec["securityContext"]["runAsGroup"], "fsGroup must make the spool claim writable"
hpa = objs[("HorizontalPodAutoscaler", "vodbridge")]["spec"]["scaleTargetRef"]
assert (hpa["kind"], hpa["name"]) == ("StatefulSet", "vodbridge"), f"HPA targets {hpa}"
headless = objs.get(("Service", sts["spec"]["serviceName"]))
assert headless and headless["spec"].get("clusterIP") == "None", "serviceName must name a headless Service"
print(f"kubernetes: {len(kinds)} kinds ok; spool {spool_path} on claim {mounts[spool_path]}; grace {grace}s >= {pre_stop}+{shutdown}+5")
PYEOF

echo "-- Grafana dashboard is generated"
"$PY" scripts/deploy/gen_dashboard.py --check

echo "-- Prometheus rules"
promtool check rules deploy/prometheus/rules.yml
promtool test rules deploy/prometheus/tests/rules_test.yml

echo "-- shipped configuration files"
cargo build -q -p vodbridge --bin vodbridge
BIN=$ROOT/target/debug/vodbridge
for cfg in config/vodbridge.toml config/container.toml config/compose.toml; do
  "$BIN" check-config --config "$cfg"
done
"$PY" - <<'PYEOF' > /tmp/vodbridge-k8s.toml
import yaml
print(yaml.safe_load(open("deploy/kubernetes/configmap.yaml"))["data"]["vodbridge.toml"])
PYEOF
TENCENT_CALLBACK_TOKEN=t TENCENT_VOD_SIGN_KEY=k VOLC_VOD_KEYS=v "$BIN" check-config --config /tmp/vodbridge-k8s.toml

echo "-- dashboard and alert queries name exported metrics"
. scripts/lib.sh
WORK=$(mktemp -d); PID=""; NPID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; [ -n "$NPID" ] && kill "$NPID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
LISTEN=$(free_port); ADMIN=$(free_port); NATS=$(free_port); VOD=$(free_port)
nats-server -a 127.0.0.1 -p "$NATS" -js -sd "$WORK/nats" >"$WORK/nats.log" 2>&1 &
NPID=$!
wait_tcp "$NATS"
POLL=""
if grep -q 'pub poll:' crates/vodbridge/src/config/mod.rs; then
  # Nothing listens on $VOD: every pull fails, which exports the poller's error series.
  POLL=$(printf '[sources.poll]\nsecret_id = "AKIDEXAMPLE"\nsecret_key = "SECRETEXAMPLE"\nendpoint = "http://127.0.0.1:%s"\nconcurrency = 1\n' "$VOD")
fi
cat > "$WORK/cfg.toml" <<CFG
[server]
listen = "127.0.0.1:$LISTEN"
admin_listen = "127.0.0.1:$ADMIN"
ack_timeout = "2s"
[log]
level = "warn"
[[sources]]
name = "tencent"
provider = "tencent"
$POLL
[[sources]]
name = "volcengine"
provider = "volcengine"
[[sinks]]
name = "local"
type = "file"
path = "$WORK/events.jsonl"
[[sinks]]
name = "nats"
type = "nats"
url = "nats://127.0.0.1:$NATS"
jetstream = true
[sinks.stream]
name = "VOD"
subjects = ["vod.>"]
[dead_letter]
sink = "local"
destination = "$WORK/deadletter.jsonl"
CFG
"$BIN" run --config "$WORK/cfg.toml" 2>"$WORK/vodbridge.log" &
PID=$!
for _ in $(seq 300); do
  curl -fsS "http://127.0.0.1:$ADMIN/healthz" >/dev/null 2>&1 && break
  kill -0 "$PID" 2>/dev/null || { cat "$WORK/vodbridge.log" >&2; exit 1; }
  sleep 0.1
done
# The container HEALTHCHECK command, against the live admin port and a dead one.
"$BIN" healthcheck --url "http://127.0.0.1:$ADMIN/healthz"
if "$BIN" healthcheck --url "http://127.0.0.1:$VOD/healthz" 2>/dev/null; then echo "healthcheck passed on a closed port" >&2; exit 1; fi
post() { curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "@$2" "http://127.0.0.1:$LISTEN/v1/callbacks/$1"; }
[ "$(post tencent tests/fixtures/tencent/file_deleted.json)" = 200 ]
[ "$(post volcengine tests/fixtures/volcengine/delete_media_complete.json)" = 200 ]
printf '{"EventType":"SomethingNew","X":{}}' > "$WORK/unmapped.json"
[ "$(post tencent "$WORK/unmapped.json")" = 200 ]
printf 'not json' > "$WORK/bad.json"
[ "$(post volcengine "$WORK/bad.json")" = 400 ]
kill "$NPID"; wait "$NPID" 2>/dev/null || true; NPID=""
code=$(post tencent tests/fixtures/tencent/file_deleted.json)
[ "$code" = 503 ] || { echo "sink outage answered $code, expected 503" >&2; exit 1; }
sleep 1
curl -fsS "http://127.0.0.1:$ADMIN/metrics" > "$WORK/metrics.txt"
kill -TERM "$PID"; wait "$PID" || true; PID=""

# The spool's families exist only with [spool]: a second bridge with one, and a callback through it.
LISTEN=$(free_port); ADMIN=$(free_port)
file_bridge_config "$WORK/spooled" "$LISTEN" "$ADMIN" > "$WORK/spool.toml"
printf '[spool]\npath = "%s"\nmax_bytes = "64MiB"\n' "$WORK/spooled/spool" >> "$WORK/spool.toml"
"$BIN" run --config "$WORK/spool.toml" 2>"$WORK/vodbridge-spool.log" &
PID=$!
wait_ready "$PID" "$ADMIN" "$WORK/vodbridge-spool.log"
[ "$(post tencent tests/fixtures/tencent/file_deleted.json)" = 200 ]
sleep 1
curl -fsS "http://127.0.0.1:$ADMIN/metrics" > "$WORK/metrics-spool.txt"
"$BIN" spool status --config "$WORK/spool.toml" >/dev/null
"$PY" - "$WORK/metrics.txt" "$WORK/metrics-spool.txt" <<'PYEOF'
import json, re, sys
exported = set()
for scraped in sys.argv[1:]:
    for line in open(scraped):
        m = re.match(r"^(vodbridge_[a-z0-9_]+)", line)
        if m:
            exported.add(re.sub(r"_(bucket|sum|count)$", "", m.group(1)))
queried = {}
dash = json.load(open("deploy/grafana/dashboards/vodbridge.json"))
for panel in dash["panels"]:
    for t in panel.get("targets", []):
        for name in re.findall(r"vodbridge_[a-z0-9_]+", t["expr"]):
            queried.setdefault(re.sub(r"_(bucket|sum|count)$", "", name), set()).add("dashboard: " + panel["title"])
for name in re.findall(r"vodbridge_[a-z0-9_]+", open("deploy/prometheus/rules.yml").read()):
    queried.setdefault(re.sub(r"_(bucket|sum|count)$", "", name), set()).add("rules.yml")
missing = {n: w for n, w in queried.items() if n not in exported}
for n, where in sorted(missing.items()):
    print(f"not exported: {n} (queried by {', '.join(sorted(where))})", file=sys.stderr)
if missing:
    sys.exit(1)
print(f"all {len(queried)} queried metrics are exported ({len(exported)} families scraped)")
PYEOF
kill -TERM "$PID"; wait "$PID" || true; PID=""
echo "deploy check passed"
