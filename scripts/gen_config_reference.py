#!/usr/bin/env python3
"""Generate docs/configuration.md from the configuration structs' `///` docs.

The reference is generated, not written by hand, so it cannot drift from the code:
`scripts/checks/config-docs.sh` regenerates it and fails when the committed file differs.
Usage: scripts/gen_config_reference.py [--check]
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]

# (TOML section, source file, struct name, note)
SECTIONS = [
    ("[server]", "crates/vodbridge/src/config/mod.rs", "ServerConfig", ""),
    ("[log]", "crates/vodbridge/src/config/mod.rs", "LogConfig", ""),
    ("[[sources]]", "crates/vodbridge/src/config/mod.rs", "SourceConfig",
     "One table per source; each gets `POST /v1/callbacks/{name}`."),
    ("[sources.poll]", "crates/ingress/src/poller/config.rs", "PollConfig",
     "Optional, Tencent sources only: drain the reliable-callback queue with `PullEvents`."),
    ('[[sinks]] type = "file"', "crates/sink-file/src/config.rs", "FileSinkConfig", ""),
    ('[[sinks]] type = "kafka"', "crates/sink-kafka/src/config.rs", "KafkaSinkConfig", ""),
    ('[[sinks]] type = "nats"', "crates/sink-nats/src/config.rs", "NatsSinkConfig", ""),
    ("[sinks.stream]", "crates/sink-nats/src/config.rs", "StreamConfig",
     "Optional, NATS sinks only: the JetStream stream to create or update at start-up."),
    ("[dead_letter]", "crates/vodbridge/src/config/mod.rs", "DeadLetterConfig",
     "Optional. Without it, dead letters go to the first sink: `deadletter.jsonl` beside a file sink's `path`, "
     "or the `vodbridge.deadletter` topic or subject of a Kafka or NATS sink; the start-up log line and "
     "`check-config` say so, and warn when a JetStream stream the sink manages does not bind that subject."),
    ("[spool]", "crates/spool/src/config.rs", "SpoolConfig",
     "Optional. With it, a callback is answered 200 once its events are fsync'd in the spool, and one "
     "forwarder per sink publishes them afterwards; without it, once every sink acknowledged."),
]

FIELD = re.compile(r"^\s*pub (r#)?([a-z_][a-z0-9_]*)\s*:\s*(.+?),?\s*$")


def struct_fields(path, name):
    lines = (ROOT / path).read_text().splitlines()
    start = next(i for i, l in enumerate(lines) if re.match(rf"^pub struct {name}\b", l))
    fields, doc, depth = [], [], 0
    for line in lines[start:]:
        depth += line.count("{") - line.count("}")
        s = line.strip()
        if s.startswith("///"):
            doc.append(s[3:].strip())
        elif s.startswith("#["):
            if "skip" in s and "skip_serializing" not in s:
                doc = ["(internal)"]
        else:
            m = FIELD.match(line)
            if m:
                if doc != ["(internal)"]:
                    fields.append((m.group(2), m.group(3).rstrip(","), " ".join(doc)))
                doc = []
            elif s and not s.startswith("//"):
                doc = []
        if depth == 0 and "}" in line and line is not lines[start]:
            break
    return fields


def render():
    out = [
        "# Configuration reference",
        "",
        "Generated from the configuration structs by `scripts/gen_config_reference.py`; do not edit by hand.",
        "A worked example with every section is `config/example.toml`; the embedded default is `config/vodbridge.toml`.",
        "",
        "vodbridge reads one TOML file (`--config FILE`, or the embedded default) and then environment variables",
        "prefixed `VODBRIDGE_`, with `__` between nesting levels (`VODBRIDGE_SERVER__LISTEN=0.0.0.0:8080`).",
        "Unknown keys and invalid values stop start-up with a message naming the key. Secrets can be given inline,",
        "as `*_file` (read from a file, e.g. a mounted Kubernetes Secret) or as `*_env` (the name of an environment",
        "variable); they are never logged. Durations are written like `10s`, `5m`, `7d`.",
        "",
    ]
    for section, path, name, note in SECTIONS:
        out += [f"## `{section}`", ""]
        if note:
            out += [note, ""]
        out += [f"Source: `{path}` (`{name}`).", "", "| key | type | meaning |", "|---|---|---|"]
        for field, ty, doc in struct_fields(path, name):
            ty = ty.replace("|", "\\|")
            doc = doc.replace("|", "\\|")
            out.append(f"| `{field}` | `{ty}` | {doc} |")
        out.append("")
    return "\n".join(out)


def main():
    target = ROOT / "docs/configuration.md"
    text = render()
    if "--check" in sys.argv:
        if not target.exists() or target.read_text() != text:
            print("docs/configuration.md is out of date: run scripts/gen_config_reference.py", file=sys.stderr)
            return 1
        print("docs/configuration.md matches the configuration structs")
        return 0
    target.write_text(text)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
