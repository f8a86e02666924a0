#!/usr/bin/env bash
# `make bench`: the criterion benchmarks and the tracker's size/speed bench.
# Speed and memory targets live here, never in timed tests.
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

log "ingest: validate+enrich+pack throughput and 100-event handler time (criterion)"
cargo bench -p pulse-ingest --bench ingest -- --noplot

if [[ -x sdk-wasm/scripts/bench.sh ]]; then
  log "browser tracker: size and track() cost beside peers"
  sdk-wasm/scripts/bench.sh
fi
