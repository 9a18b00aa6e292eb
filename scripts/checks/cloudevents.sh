#!/usr/bin/env bash
# Independent check of the normalizer's expected outputs: the CloudEvents Python SDK and the
# JSON Schema in docs/schema/ must accept every event in tests/fixtures/**/*.expected.json.
# scripts/test.sh sets VODBRIDGE_PYTHON to a venv with scripts/requirements.txt installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec "${VODBRIDGE_PYTHON:-python3}" scripts/validate_events.py
