#!/usr/bin/env bash
# docs/configuration.md is generated from the configuration structs; fail when it is stale, and
# when config/example.toml (which documents every section by example) no longer loads.
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
