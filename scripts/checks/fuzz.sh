#!/usr/bin/env bash
# Bounded fuzzing of the normalizer for CI: every cargo-fuzz target in fuzz/ for 30 s (override
# with FUZZ_SECONDS), seeded with tests/fixtures/ and the regression seeds in fuzz/seeds/; fails on
# any crash, failed invariant, timeout or out-of-memory. Installs cargo-fuzz when missing. Needs a
# nightly toolchain; without one it prints a SKIP line (CI has nightly, so CI always fuzzes).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "SKIP scripts/checks/fuzz.sh: no nightly Rust toolchain (rustup toolchain install nightly); the normalizer was NOT fuzzed"
  exit 0
fi

# Reported normalizer findings whose fix has not landed yet (see `known_issue` in fuzz/src/lib.rs
# for what each one is). Their regression seeds in fuzz/seeds/ fail the targets as long as the
# bug is there, so each is stepped over here, narrowly, to keep CI meaningful for every other
# crash. Delete a name in the commit that fixes it: from then on its seed guards the fix.
# FUZZ_STRICT=1 steps over nothing.
# Every finding so far is fixed (8436dcd, d92538f) and guarded by its seed.
KNOWN=""
if [ "${FUZZ_STRICT:-0}" = 1 ] || [ -z "$KNOWN" ]; then
  unset FUZZ_KNOWN_ISSUES
else
  export FUZZ_KNOWN_ISSUES="$KNOWN"
  echo "NOTE: known normalizer findings not yet fixed, not failing this check: $KNOWN"
fi
exec bash scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
