# Picks the AWS emulator, sourced by dev.sh. Order (SPEC "Local run"):
# AWS_ENDPOINT_URL if set; else LocalStack on localhost:4566 if it answers;
# else moto server on 127.0.0.1:4566, started here and stopped on exit.
# Sets AWS_ENDPOINT_URL and PULSE_EMULATOR_PID (empty when not ours).

export AWS_REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
PULSE_EMULATOR_PID=""

# wait_http URL SECONDS: polls until URL answers 2xx.
wait_http() {
  local url=$1 secs=$2 i
  for ((i = 0; i < secs * 10; i++)); do
    curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

start_moto() {
  local port=$1 logfile=$2
  "$REPO_ROOT/infra/install-python.sh"
  log "starting moto server on 127.0.0.1:$port (log: $logfile)"
  "$PULSE_VENV/bin/python" "$REPO_ROOT/infra/moto_server.py" -H 127.0.0.1 -p "$port" >"$logfile" 2>&1 &
  PULSE_EMULATOR_PID=$!
  wait_http "http://127.0.0.1:$port/moto-api/" 30 || die "moto server did not start; see $logfile"
}

choose_emulator() {
  if [[ -n "${AWS_ENDPOINT_URL:-}" ]]; then
    log "using AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL"
  elif curl -fsS --max-time 1 http://localhost:4566/_localstack/health >/dev/null 2>&1; then
    export AWS_ENDPOINT_URL=http://localhost:4566
    log "using LocalStack at $AWS_ENDPOINT_URL"
  elif curl -fsS --max-time 1 http://127.0.0.1:4566/moto-api/ >/dev/null 2>&1; then
    export AWS_ENDPOINT_URL=http://127.0.0.1:4566
    log "using the moto server already running at $AWS_ENDPOINT_URL"
  else
    mkdir -p "$REPO_ROOT/target"
    start_moto 4566 "$REPO_ROOT/target/moto.log"
    export AWS_ENDPOINT_URL=http://127.0.0.1:4566
    log "using moto server at $AWS_ENDPOINT_URL"
  fi
}
