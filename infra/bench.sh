#!/usr/bin/env bash
# `make bench`: the criterion benchmarks, the consumer capacity tool (against
# moto) and the tracker's size/speed bench. Speed and capacity targets live
# here, never in timed tests.
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
"$REPO_ROOT/infra/install-python.sh"

log "ingest: validate+enrich+pack throughput, 100-event handler time (goals ≥ 1,000,000 events/s, < 2 ms)"
cargo bench -p pulse-ingest --bench ingest -- --noplot

log "consumer: in-process cost of a 10 × 100-event batch without I/O (goal < 1 ms)"
cargo bench -p pulse-consumer --bench consume -- --noplot

log "consumer: write requests and WRU per event on a realistic mix, against moto (goal ≤ 2.5 WRU)"
cargo run --release -q -p pulse-tests --bin capacity -- "${PULSE_CAPACITY_EVENTS:-5000}"

log "query: 30-day summary requests and in-process time (goal ≤ 40 requests, no scan)"
cargo bench -p pulse-query --bench summary -- --noplot

if [[ -x sdk-wasm/scripts/bench.sh ]]; then
  log "browser tracker: size and track() cost beside peers"
  sdk-wasm/scripts/bench.sh
fi
