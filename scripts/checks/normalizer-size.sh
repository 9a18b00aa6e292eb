#!/usr/bin/env bash
# The normalizer stays small enough to change: at most 2,400 code lines in crates/normalizer/src
# (see scripts/normalizer_lines.py for what counts; docs/performance.md, "Normalizer").
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 scripts/normalizer_lines.py --max 2400 | tail -1
