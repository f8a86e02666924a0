#!/usr/bin/env bash
# Property-based API test (part of `make test`): schemathesis generates
# requests from openapi.yaml, sends them to the dev gateway (the real Lambda
# handlers) over its own moto server, and checks every response against the
# spec. Starts both on free ports and stops them on exit.
#   PULSE_SCHEMATHESIS_EXAMPLES  test cases per operation and phase (default 25)
#   PULSE_SCHEMATHESIS_SEED      hypothesis seed (default fixed, so CI is
#                                reproducible; `random` for a new one each run)
source "$(dirname "$0")/lib.sh"
source "$REPO_ROOT/infra/emulator.sh"
cd "$REPO_ROOT"

st_bin=$("$REPO_ROOT/infra/install-venv.sh" api-test "$REPO_ROOT/infra/requirements-api-test.txt")
"$REPO_ROOT/infra/install-python.sh"
log "building the dev gateway"
cargo build -p pulse-gateway --quiet

free_port() { "$PULSE_VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

out="$REPO_ROOT/target/schemathesis"
mkdir -p "$out"
GATEWAY_PID=""
cleanup() {
  [[ -n $GATEWAY_PID ]] && kill "$GATEWAY_PID" 2>/dev/null
  [[ -n $PULSE_EMULATOR_PID ]] && kill "$PULSE_EMULATOR_PID" 2>/dev/null
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

moto_port=$(free_port)
start_moto "$moto_port" "$out/moto.log"
port=$(free_port)
log "starting the dev gateway on 127.0.0.1:$port (log: $out/gateway.log)"
AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port" PULSE_PORT="$port" PULSE_STACK_PREFIX=pulse-schemathesis \
  PULSE_DEV_WRITE_KEY=wk_dev_demo PULSE_STATIC_ROOT="$REPO_ROOT" RUST_LOG=warn \
  target/debug/pulse-gateway >"$out/gateway.log" 2>&1 &
GATEWAY_PID=$!
wait_http "http://127.0.0.1:$port/health" 60 || { tail -20 "$out/gateway.log" >&2; die "the gateway did not become healthy"; }

seed=${PULSE_SCHEMATHESIS_SEED:-20261122}
seed_args=(--seed "$seed")
[[ $seed == random ]] && seed_args=()
examples=${PULSE_SCHEMATHESIS_EXAMPLES:-25}

# Which checks run, and why a few do not: infra/schemathesis.toml.
log "schemathesis: openapi.yaml against http://127.0.0.1:$port, $examples examples per operation, seed $seed"
# Run from target/schemathesis so its state (.hypothesis/, .schemathesis/)
# stays out of the work tree.
cd "$out"
"$st_bin/schemathesis" --config-file "$REPO_ROOT/infra/schemathesis.toml" run "$REPO_ROOT/openapi.yaml" \
  --url "http://127.0.0.1:$port" \
  --header "Authorization: Bearer wk_dev_demo" \
  --max-examples "$examples" "${seed_args[@]}" \
  --workers 2 --request-timeout 10 \
  --report junit --report-junit-path "$out/junit.xml"
log "schemathesis passed (report: $out/junit.xml)"
