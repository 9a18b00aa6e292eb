#!/usr/bin/env bash
# docs/asyncapi.yaml with the AsyncAPI project's own parser: install @asyncapi/parser (pinned in
# scripts/asyncapi/package.json and package-lock.json) with `npm ci`, parse the document and fail
# on any diagnostic of severity error (warnings are printed). Then check every event the
# normalizer's fixtures expect (tests/fixtures/**/*.expected.json) against the channel of its
# type on each broker: structured payload, binary payload and Kafka binary headers.
#
# That the file is what `vodbridge asyncapi` prints is the Rust test crates/vodbridge/tests/asyncapi.rs.
# Needs Node.js 18+ and npm. Environment: ASYNCAPI_SPEC (another file, e.g. to see the check fail).
set -euo pipefail
cd "$(dirname "$0")/../.."

command -v node >/dev/null 2>&1 || { echo "node is required (Node.js 18 or later)" >&2; exit 1; }
command -v npm >/dev/null 2>&1 || { echo "npm is required" >&2; exit 1; }

DIR=scripts/asyncapi
STAMP=$DIR/node_modules/.installed-from-lock
# Reinstall only when the lock file changed since the last install (npm ci always starts over).
if ! cmp -s "$DIR/package-lock.json" "$STAMP" 2>/dev/null; then
  # --ignore-scripts: nothing here needs an install script (one dependency's only sends usage
  # statistics).
  (cd "$DIR" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  cp "$DIR/package-lock.json" "$STAMP"
fi

SPEC=${ASYNCAPI_SPEC:-docs/asyncapi.yaml}
node "$DIR/validate.mjs" "$SPEC" tests/fixtures
