#!/usr/bin/env bash
# The dashboard's browser tests (`make test-dashboard`, and a step of
# `make test`): starts its own moto server and dev gateway on free ports,
# seeds events through the real path (POST /v1/events with the write key →
# SQS → consumer → DynamoDB), waits until the summary API counts them, then
# runs tests/dashboard/*.test.mjs (node --test, playwright-core driving
# Debian's chromium). Stops everything on exit.
# Artifacts in target/dashboard: dashboard.png (full page), the exported
# files, junit.xml and the moto / gateway logs.
source "$(dirname "$0")/lib.sh"
source "$REPO_ROOT/infra/emulator.sh"
cd "$REPO_ROOT"
started=$SECONDS

"$REPO_ROOT/infra/install-python.sh"
"$REPO_ROOT/infra/install-chromium.sh"
PULSE_NODE_MODULES=$("$REPO_ROOT/infra/install-node-tools.sh")
export PULSE_NODE_MODULES
log "building the dev gateway and pulse-admin"
cargo build -p pulse-gateway -p pulse-admin --quiet

free_port() { "$PULSE_VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

out="$REPO_ROOT/target/dashboard"
mkdir -p "$out"
rm -f "$out"/*.png "$out"/export.* "$out/seed.json" "$out/junit.xml"
GATEWAY_PID=""
cleanup() {
  [[ -n $GATEWAY_PID ]] && kill "$GATEWAY_PID" 2>/dev/null
  [[ -n $PULSE_EMULATOR_PID ]] && kill "$PULSE_EMULATOR_PID" 2>/dev/null
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

prefix=pulse-dashboard
moto_port=$(free_port)
start_moto "$moto_port" "$out/moto.log"
export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port"
port=$(free_port)
log "starting the dev gateway on 127.0.0.1:$port (log: $out/gateway.log)"
PULSE_PORT="$port" PULSE_STACK_PREFIX="$prefix" PULSE_STATIC_ROOT="$REPO_ROOT" \
  PULSE_DEV_WRITE_KEY=wk_dev_demo PULSE_DEV_READ_KEY=rk_dev_demo PULSE_MONITOR_CACHE_SECONDS=1 RUST_LOG=warn \
  target/debug/pulse-gateway >"$out/gateway.log" 2>&1 &
GATEWAY_PID=$!
wait_http "http://127.0.0.1:$port/health" 60 || { tail -20 "$out/gateway.log" >&2; die "the gateway did not become healthy"; }

# A second project that never gets an event: the "no events yet" state.
PULSE_STACK_PREFIX="$prefix" target/debug/pulse-admin project create --name "Empty" --id empty \
  --write-key wk_dash_empty --read-key rk_dash_empty >/dev/null

export DASH_BASE="http://127.0.0.1:$port" DASH_OUT="$out" DASH_WRITE_KEY=wk_dev_demo DASH_READ_KEY=rk_dev_demo \
  DASH_EMPTY_READ_KEY=rk_dash_empty DASH_MONITOR_CACHE_SECONDS=1
log "seeding events through POST /v1/events"
node tests/dashboard/seed.mjs

log "Playwright tests (tests/dashboard) against $DASH_BASE/dashboard"
node --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination=stderr \
  --test-reporter=junit --test-reporter-destination="$out/junit.xml" \
  tests/dashboard/*.test.mjs
[[ -s $out/dashboard.png ]] || die "no screenshot at $out/dashboard.png"
log "dashboard tests passed in $((SECONDS - started)) s (screenshot: $out/dashboard.png, report: $out/junit.xml)"
