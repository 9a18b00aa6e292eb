#!/usr/bin/env python3
"""Generate deploy/grafana/dashboards/vodbridge.json (run after changing a panel; the output is committed)."""
import json
import pathlib

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


def panel(i, title, unit, targets):
    return {
        "id": i + 1,
        "type": "timeseries",
        "title": title,
        "datasource": DS,
        "gridPos": {"h": 8, "w": 12, "x": (i % 2) * 12, "y": (i // 2) * 8},
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

out = pathlib.Path(__file__).resolve().parents[2] / "deploy/grafana/dashboards/vodbridge.json"
out.write_text(json.dumps(dashboard, indent=2) + "\n")
print(f"wrote {out}")
