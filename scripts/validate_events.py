#!/usr/bin/env python3
"""Validate every expected normalizer output with independent implementations.

Each event in tests/fixtures/**/*.expected.json (files holding an error object instead of an
event array are skipped) must
  1. parse as a CloudEvent with the CloudEvents Python SDK (JSON event format, v1.0 validation of
     required, optional and extension attributes), and survive a write/read round trip;
  2. validate against docs/schema/vodbridge-event.schema.json (JSON Schema draft 2020-12);
  3. agree with the schema's cross-field rules the SDK cannot know: subject == data.media.id,
     partitionkey == subject when there is a subject.
Prints counts; exits non-zero on any failure.
"""
import json
import pathlib
import sys

import jsonschema
from cloudevents.core.formats.json import JSONFormat

ROOT = pathlib.Path(__file__).resolve().parent.parent


def main() -> int:
    schema = json.loads((ROOT / "docs/schema/vodbridge-event.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    fmt = JSONFormat()
    files = sorted((ROOT / "tests/fixtures").glob("**/*.expected.json"))
    events = skipped = 0
    failures = []
    for path in files:
        doc = json.loads(path.read_text())
        if not isinstance(doc, list):
            skipped += 1
            continue
        for i, event in enumerate(doc):
            events += 1
            where = f"{path.relative_to(ROOT)}[{i}]"
            raw = json.dumps(event).encode()
            try:
                ce = fmt.read(None, raw)
                again = fmt.read(None, fmt.write(ce))
                if again.get_id() != event["id"] or again.get_data() != event["data"]:
                    failures.append(f"{where}: SDK round trip changed the event")
                if ce.get_extension("provider") != event["provider"]:
                    failures.append(f"{where}: SDK lost the provider extension")
            except Exception as exc:  # the SDK raises several exception types
                failures.append(f"{where}: CloudEvents SDK rejected it: {exc}")
            for err in validator.iter_errors(event):
                failures.append(f"{where}: schema: {err.json_path}: {err.message}")
            subject = event.get("subject")
            if subject is not None:
                if event["data"].get("media", {}).get("id") != subject:
                    failures.append(f"{where}: subject differs from data.media.id")
                if event["partitionkey"] != subject:
                    failures.append(f"{where}: partitionkey differs from subject")
    for failure in failures:
        print(failure, file=sys.stderr)
    print(
        f"validated {events} events from {len(files)} files "
        f"({skipped} error files skipped): {events - len({f.split(':')[0] for f in failures})} passed, "
        f"{len({f.split(':')[0] for f in failures})} failed"
    )
    if events == 0:
        print("no events found", file=sys.stderr)
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
