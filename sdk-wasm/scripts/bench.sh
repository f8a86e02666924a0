#!/usr/bin/env bash
# make bench-sdk: builds the package, then prints size and track() cost next to
# the npm peers (Snowplow, posthog-js, Segment) and writes target/bench/sdk.json.
# BENCH_RUNS, BENCH_CALLS and BENCH_TRACKERS (comma list) override the defaults.
set -euo pipefail
SDK="$(cd "$(dirname "$0")/.." && pwd)"
INFRA="$SDK/../infra"
"$INFRA/install-chromium.sh"
NODE_MODULES="$("$INFRA/install-node-tools.sh")"
source "$INFRA/lib.sh"
"$SDK/scripts/build.sh"
log "sdk: benchmark (about 3 minutes with all peers)"
PULSE_NODE_MODULES="$NODE_MODULES" node "$SDK/bench/bench.mjs"
