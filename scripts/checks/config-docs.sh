#!/usr/bin/env bash
# docs/configuration.md is generated from the configuration structs; fail when it is stale, and
# when config/example.toml (which documents every section by example) no longer loads, and when
# the README's run command no longer starts the bridge on its embedded default.
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 scripts/gen_config_reference.py --check
cargo build -q -p vodbridge --bin vodbridge
# example.toml names secret files that do not exist here; give them, then load it strictly.
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
sed -e "s#/run/secrets/#$tmp/#g" config/example.toml > "$tmp/example.toml"
for f in $(grep -o "$tmp/[A-Za-z0-9_.-]*" "$tmp/example.toml" | sort -u); do echo "secret-for-check" > "$f"; done
TENCENT_VOD_SIGN_KEY=k VOLC_VOD_KEYS=a,b TENCENTCLOUD_SECRET_ID=id TENCENTCLOUD_SECRET_KEY=key \
  target/debug/vodbridge check-config --config "$tmp/example.toml"

# The README's run command must still pick the bridge (a second binary in the workspace once made
# a bare `cargo run` ambiguous) and start from the embedded default; run it in debug, with
# `check-config` so nothing listens.
run_cmd=$(grep -m1 -o '^cargo run [^#]*' README.md | sed 's/ --release//; s/[[:space:]]*$//')
[ -n "$run_cmd" ] || { echo "README has no 'cargo run' set-up line" >&2; exit 1; }
(cd "$tmp" && $run_cmd --manifest-path "$OLDPWD/Cargo.toml" -q -- check-config)
