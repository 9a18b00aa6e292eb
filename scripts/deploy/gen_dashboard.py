#!/usr/bin/env python3
"""Generate deploy/grafana/dashboards/vodbridge.json (run after changing a panel; the output is committed).

Usage: scripts/deploy/gen_dashboard.py [--check]   (--check: fail when the committed file is stale)
"""
import json
import pathlib
import sys

DS = {"type": "prometheus", "uid": "prometheus"}

PANELS = [
    # (title, unit, [(expr, legend)])
    ("Events normalized by provider and type", "ops",
     [("sum by (provider, type) (rate(vodbridge_events_normalized_total[$__rate_interval]))", "{{provider}} {{type}}")]),
    ("Callbacks received and rejected", "reqps",
     [("sum by (source) (rate(vodbridge_callbacks_received_total[$__rate_interval]))", "received {{source}}"),
      ("sum by (source, reason) (rate(vodbridge_callbacks_rejected_total[$__rate_interval]))", "rejected {{source}} {{reason}}")]),
    ("Sink acknowledgement latency", "s",
     [("histogram_quantile(0.5, sum by (le, sink) (rate(vodbridge_sink_publish_duration_seconds_bucket[$__rate_interval])))", "p50 {{sink}}"),
      ("histogram_quantile(0.99, sum by (le, sink) (rate(vodbridge_sink_publish_duration_seconds_bucket[$__rate_interval])))", "p99 {{sink}}")]),
    ("Callback latency (receive to answer)", "s",
     [("histogram_quantile(0.5, sum by (le) (rate(vodbridge_http_request_duration_seconds_bucket{route=\"/v1/callbacks/{source}\"}[$__rate_interval])))", "p50"),
      ("histogram_quantile(0.99, sum by (le) (rate(vodbridge_http_request_duration_seconds_bucket{route=\"/v1/callbacks/{source}\"}[$__rate_interval])))", "p99")]),
    ("Sink failures by reason", "ops",
     [("sum by (sink, reason) (rate(vodbridge_sink_publish_failures_total[$__rate_interval]))", "{{sink}} {{reason}}")]),
    ("HTTP 503 answers", "reqps",
     [("sum by (route) (rate(vodbridge_http_requests_total{status=\"503\"}[$__rate_interval]))", "503 {{route}}")]),
    ("Tencent poller: oldest unconfirmed event", "s",
     [("max by (source) (vodbridge_poller_oldest_unconfirmed_age_seconds)", "{{source}}")]),
    ("Tencent poller: pulled, confirmed, redelivered", "ops",
     [("sum by (source) (rate(vodbridge_poller_events_pulled_total[$__rate_interval]))", "pulled {{source}}"),
      ("sum by (source) (rate(vodbridge_poller_events_confirmed_total[$__rate_interval]))", "confirmed {{source}}"),
      ("sum by (source) (rate(vodbridge_poller_events_redelivered_total[$__rate_interval]))", "redelivered {{source}}")]),
    ("Dead letters", "ops",
     [("sum by (source, reason) (rate(vodbridge_dead_letters_total[$__rate_interval]))", "{{source}} {{reason}}")]),
    ("Unmapped vendor event types (forwarded as vod.unmapped)", "ops",
     [("sum by (source, provider) (rate(vodbridge_events_unmapped_total[$__rate_interval]))", "{{source}} {{provider}}")]),
    ("In-flight callbacks", "short",
     [("sum(vodbridge_http_in_flight_requests)", "in flight")]),
]

# The spool ([spool]): one row of panels below the others. Empty on bridges without a spool.
SPOOL_PANELS = [
    ("Spool: lag per sink (age of the oldest unforwarded event)", "s",
     [("max by (sink) (vodbridge_spool_lag_seconds)", "{{sink}}")]),
    ("Spool: unforwarded events per sink", "short",
     [("sum by (sink) (vodbridge_spool_lag_events)", "{{sink}}")]),
    ("Spool: fill (retained bytes / max_bytes)", "percentunit",
     [("max by (instance) (vodbridge_spool_retained_bytes) / max by (instance) (vodbridge_spool_max_bytes)", "{{instance}}")]),
    ("Spool: callbacks refused (503) by reason", "ops",
     [("sum by (reason) (rate(vodbridge_spool_rejected_total[$__rate_interval]))", "{{reason}}")]),
    ("Spool: group commit duration (insert + fsync) and background checkpoint", "s",
     [("histogram_quantile(0.5, sum by (le) (rate(vodbridge_spool_commit_duration_seconds_bucket[$__rate_interval])))", "commit p50"),
      ("histogram_quantile(0.99, sum by (le) (rate(vodbridge_spool_commit_duration_seconds_bucket[$__rate_interval])))", "commit p99"),
      ("histogram_quantile(0.99, sum by (le) (rate(vodbridge_spool_checkpoint_duration_seconds_bucket[$__rate_interval])))", "checkpoint p99")]),
    ("Spool: group commit batch size (events per fsync)", "short",
     [("histogram_quantile(0.5, sum by (le) (rate(vodbridge_spool_commit_batch_events_bucket[$__rate_interval])))", "p50"),
      ("histogram_quantile(0.99, sum by (le) (rate(vodbridge_spool_commit_batch_events_bucket[$__rate_interval])))", "p99"),
      ("sum(rate(vodbridge_spool_commit_batch_events_sum[$__rate_interval])) / sum(rate(vodbridge_spool_commit_batch_events_count[$__rate_interval]))", "mean")]),
    ("Spool: forwarded, retried and dead-lettered per sink", "ops",
     [("sum by (sink) (rate(vodbridge_spool_forwarded_events_total[$__rate_interval]))", "forwarded {{sink}}"),
      ("sum by (sink) (rate(vodbridge_spool_forward_retries_total[$__rate_interval]))", "retried batches {{sink}}"),
      ("sum by (sink, reason) (rate(vodbridge_spool_forward_dead_letters_total[$__rate_interval]))", "dead letters {{sink}} {{reason}}")]),
    ("Spool: health and damage", "short",
     [("min by (instance) (vodbridge_spool_healthy)", "healthy {{instance}}"),
      ("sum by (instance) (increase(vodbridge_spool_io_errors_total[$__rate_interval]))", "I/O errors {{instance}}"),
      ("sum by (instance) (increase(vodbridge_spool_quarantined_records_total[$__rate_interval]))", "quarantined records {{instance}}")]),
]


def panel(i, title, unit, targets, top=0, pid=None):
    return {
        "id": pid or i + 1,
        "type": "timeseries",
        "title": title,
        "datasource": DS,
        "gridPos": {"h": 8, "w": 12, "x": (i % 2) * 12, "y": top + (i // 2) * 8},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {"refId": chr(ord("A") + j), "datasource": DS, "expr": expr, "legendFormat": legend}
            for j, (expr, legend) in enumerate(targets)
        ],
    }


dashboard = {
    "uid": "vodbridge",
    "title": "vodbridge",
    "tags": ["vodbridge"],
    "timezone": "browser",
    "schemaVersion": 39,
    "version": 1,
    "refresh": "30s",
    "time": {"from": "now-1h", "to": "now"},
    "panels": [panel(i, *p) for i, p in enumerate(PANELS)],
}

# A row header, then the spool's panels under it; ids and positions continue after the others.
spool_top = ((len(PANELS) + 1) // 2) * 8
dashboard["panels"].append({
    "id": len(PANELS) + 1,
    "type": "row",
    "title": "Spool",
    "collapsed": False,
    "gridPos": {"h": 1, "w": 24, "x": 0, "y": spool_top},
    "panels": [],
})
dashboard["panels"] += [
    panel(i, *p, top=spool_top + 1, pid=len(PANELS) + 2 + i) for i, p in enumerate(SPOOL_PANELS)
]

out = pathlib.Path(__file__).resolve().parents[2] / "deploy/grafana/dashboards/vodbridge.json"
text = json.dumps(dashboard, indent=2) + "\n"
if "--check" in sys.argv:
    if not out.exists() or out.read_text() != text:
        print(f"{out} is out of date: run scripts/deploy/gen_dashboard.py", file=sys.stderr)
        sys.exit(1)
    print(f"{out.name} matches scripts/deploy/gen_dashboard.py")
    sys.exit(0)
out.write_text(text)
print(f"wrote {out}")
