#!/usr/bin/env bash
# Fuzz the normalizer: every cargo-fuzz target in fuzz/ for SECONDS each (default 600), one after
# the other, then a summary per target (executions, execs/s, coverage, corpus size, crashes).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Needs a nightly toolchain (libFuzzer instrumentation); installs cargo-fuzz when it is missing.
# The corpus of each target is fuzz/corpus/<target>/ (kept between runs, not committed), seeded
# on every run from tests/fixtures/ and the committed regression seeds in fuzz/seeds/<target>/.
# Crashes land in fuzz/artifacts/<target>/; the libFuzzer log of each run beside them
# (fuzz/artifacts/<target>.log). Exit status: 0 when no target crashed, 1 otherwise.
#
# Environment: FUZZ_SANITIZER (default `none`: the normalizer has no unsafe code, and without
# AddressSanitizer the fuzzer runs several times faster; `address` for the cargo-fuzz default),
# FUZZ_ARGS (extra libFuzzer flags).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

seconds="${1:-600}"
shift || true
all_targets=(normalize_tencent normalize_volcengine normalize_pull normalize_differential)
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=("${all_targets[@]}"); fi
sanitizer="${FUZZ_SANITIZER:-none}"

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "error: no nightly toolchain (cargo-fuzz needs one: rustup toolchain install nightly)" >&2
  exit 2
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "==> installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

# Release build with debug assertions and overflow checks: an overflow is a finding too.
build_flags=(-O -a --sanitizer "$sanitizer")

seed_corpus() { # target
  local target="$1" dir="fuzz/corpus/$1" f
  mkdir -p "$dir" "fuzz/artifacts/$target"
  local fixtures=()
  case "$target" in
    normalize_tencent | normalize_pull) fixtures+=(tests/fixtures/tencent/*.json) ;;
    normalize_volcengine) fixtures+=(tests/fixtures/volcengine/*.json) ;;
    normalize_differential) fixtures+=(tests/fixtures/tencent/*.json tests/fixtures/volcengine/*.json) ;;
  esac
  for f in "${fixtures[@]}"; do
    case "$f" in *.expected.json) continue ;; esac
    cp "$f" "$dir/fixture-$(basename "$f")"
  done
  if [ -d "fuzz/seeds/$target" ]; then
    for f in "fuzz/seeds/$target"/*; do
      [ -f "$f" ] && cp "$f" "$dir/seed-$(basename "$f")"
    done
  fi
  return 0
}

echo "==> building fuzz targets (sanitizer: $sanitizer)"
(cd fuzz && cargo +nightly fuzz build "${build_flags[@]}")

failed=()
summary=()
for target in "${targets[@]}"; do
  seed_corpus "$target"
  log="fuzz/artifacts/$target.log"
  echo "==> $target for ${seconds}s (log: $log)"
  status=0
  # -timeout: an input taking longer than 10 s is a finding (quadratic parsing, hang).
  (cd fuzz && cargo +nightly fuzz run "${build_flags[@]}" "$target" -- \
    -max_total_time="$seconds" -dict=json.dict -timeout=10 -print_final_stats=1 \
    ${FUZZ_ARGS:-}) >"$log" 2>&1 || status=$?
  # The last status line: "#<execs> DONE cov: N ft: N corp: N/Nb ... exec/s: N rss: NMb".
  # In fork mode (FUZZ_ARGS="-fork=1 -ignore_crashes=1", to go on past a crash) the parent
  # prints "#<execs>: cov: N ft: N corp: N exec/s: N oom/timeout/crash: a/b/c ..." instead.
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$last")
  if [ -z "$rate" ]; then # fork mode: the line's exec/s is the last job's; average instead
    secs=$(sed -n 's/.* time: \([0-9]*\)s.*/\1/p' <<<"$last")
    [ -n "$execs" ] && [ -n "$secs" ] && [ "$secs" -gt 0 ] && rate=$((execs / secs))
  fi
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\(\/[0-9a-zA-Z]*\)\{0,1\}\).*/\1/p' <<<"$last")
  files=$(find "fuzz/corpus/$target" -type f | wc -l)
  crashes=$(find "fuzz/artifacts/$target" -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | wc -l)
  line="$target: execs=${execs:-?} exec/s=${rate:-?} cov=${cov:-?} ft=${ft:-?} corpus=${corp:-?} (${files} files) crash/timeout/oom artifacts=${crashes} exit=${status}"
  panic=$(grep -A1 -m1 'panicked at' "$log" | tail -n 1 || true)
  [ -z "$panic" ] || line="$line panic: $panic"
  summary+=("$line")
  if [ "$status" != 0 ]; then
    failed+=("$target")
    echo "!! $target failed (exit $status); the end of its log:"
    tail -n 60 "$log"
    ls -l "fuzz/artifacts/$target"
  fi
done

echo
echo "==> fuzz summary (${seconds}s per target, sanitizer $sanitizer)"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "FAILED: ${failed[*]} (reproduce: cd fuzz && cargo +nightly fuzz run ${build_flags[*]} <target> artifacts/<target>/<file>)"
  exit 1
fi
