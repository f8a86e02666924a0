#!/usr/bin/env bash
# `make load`: a bounded load test of ingest through the dev gateway on
# loopback. Starts its own moto server on a free port; `target/release/load
# --in-process` starts the dev gateway in its process (pulse-gateway's
# start_dev_stack: the same Gateway::serve and Lambda handlers as the
# pulse-gateway binary) on a loopback port with its SQS event source held back,
# posts batches of fresh events at rising concurrency (requests/s, p50/p90/p99
# latency, 5xx) so ingest is measured alone (it only writes SQS), then starts
# the consumer, waits for the drain and checks that every accepted event is
# stored (summary total, event items in the table) and the DLQ is empty.
# Stops what it started. Results: target/bench/load.json (shown in `make
# bench`'s table when present). Against a running `make dev` gateway instead
# (its consumer competing during the levels): target/release/load --url URL.
#
#   PULSE_LOAD_LEVELS   concurrency levels           (default 1,4,16,64)
#   PULSE_LOAD_SECONDS  longest time per level       (default 5)
#   PULSE_LOAD_BATCH    events per request           (default 20, the tracker's batch)
#   PULSE_LOAD_EVENTS   events in all, across levels (default 20000: moto stores
#                       ~50-300 events/s, so the drains take a few minutes)
source "$(dirname "$0")/lib.sh"
source "$REPO_ROOT/infra/emulator.sh"
cd "$REPO_ROOT"

"$REPO_ROOT/infra/install-python.sh"
log "building the load tool with the dev gateway in it (release; minutes the first time)"
cargo build --release -p pulse-bench --bin load

free_port() { "$PULSE_VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

out="$REPO_ROOT/target/bench/load"
mkdir -p "$out"
cleanup() {
  [[ -n $PULSE_EMULATOR_PID ]] && kill "$PULSE_EMULATOR_PID" 2>/dev/null
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

moto_port=$(free_port)
start_moto "$moto_port" "$out/moto.log"

log "load: ingest at concurrency ${PULSE_LOAD_LEVELS:-1,4,16,64}, then drain and count"
target/release/load --in-process \
  --write-key wk_dev_demo --read-key rk_dev_demo \
  --levels "${PULSE_LOAD_LEVELS:-1,4,16,64}" --seconds "${PULSE_LOAD_SECONDS:-5}" \
  --batch "${PULSE_LOAD_BATCH:-20}" --max-events "${PULSE_LOAD_EVENTS:-20000}" \
  --endpoint "http://127.0.0.1:$moto_port" --stack-prefix pulse-load
