#!/usr/bin/env bash
# Poller drain-rate benchmark against the fake VOD API (release build; prints events/s).
#   scripts/bench/poller.sh                      # file sink, documented API limit (100 req/s/action)
#   BENCH_SINK=null scripts/bench/poller.sh      # no-op sink
#   BENCH_SINK=nats NATS_URL=127.0.0.1:4222 scripts/bench/poller.sh   # JetStream, PubAck awaited
#   BENCH_API_RATE=2000 BENCH_SINK=null scripts/bench/poller.sh       # limit lifted: the poller's own ceiling
# Other knobs: BENCH_EVENTS (16000), BENCH_CONCURRENCY (8).
set -euo pipefail
cd "$(dirname "$0")/../.."
exec cargo test --release -p vodbridge-ingress --test poller_bench -- --ignored --nocapture drain_rate
