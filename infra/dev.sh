#!/usr/bin/env bash
# `make dev`: the whole stack on this machine. Installs what it needs, picks
# the emulator, builds and runs the dev gateway; Ctrl-C stops what it started.
source "$(dirname "$0")/lib.sh"
source "$REPO_ROOT/infra/emulator.sh"
cd "$REPO_ROOT"

command -v curl >/dev/null || apt_install curl
"$REPO_ROOT/infra/install-python.sh"
if [[ ! -f sdk-wasm/pkg/pulse.js && -x sdk-wasm/scripts/build.sh ]]; then
  log "building the browser tracker for /demo (first run installs wasm tools: several minutes)"
  sdk-wasm/scripts/build.sh || warn "tracker build failed: /demo will not work; the API still does"
fi

log "building the dev gateway (first build compiles the AWS SDK: a few minutes)"
cargo build -p pulse-gateway -p pulse-admin

cleanup() {
  [[ -n "${GATEWAY_PID:-}" ]] && kill "$GATEWAY_PID" 2>/dev/null
  if [[ -n "$PULSE_EMULATOR_PID" ]]; then
    log "stopping moto server"
    kill "$PULSE_EMULATOR_PID" 2>/dev/null
  fi
  wait 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

choose_emulator
export PULSE_STATIC_ROOT="$REPO_ROOT"
target/debug/pulse-gateway &
GATEWAY_PID=$!
port="${PULSE_PORT:-3000}"
if wait_http "http://127.0.0.1:$port/health" 120; then
  log "ready: curl http://127.0.0.1:$port/health  (Ctrl-C to stop)"
else
  die "the gateway did not become healthy"
fi
wait "$GATEWAY_PID"
