#!/usr/bin/env bash
# make reliability: the reliability suite at full scale.
#  1. 100,000 events through the real local stack (dev gateway with the real
#     ingest/query handlers, moto SQS + DynamoDB, the consumer behind the
#     gateway's event source): every client batch POSTed 3 times, 30 % of the
#     SQS messages delivered twice, the consumer killed 10 times at random
#     points, poison messages mixed in; then stored events, the time index and
#     every rollup the query API serves must equal the unique events sent, and
#     only the poison may be in the DLQ (tests/src/reliability.rs).
#  2. The browser tracker offline for a simulated hour with 1,000 events:
#     each arrives exactly once (sdk-wasm/tests/e2e/offline_hour.test.mjs).
# Prints `PASS name` / `FAIL name: detail` per check, then `N passed, N failed`;
# exits non-zero if any failed. `make test` runs a bounded subset of part 1
# (1,000 events) and part 2 with the other browser tests.
#
#   PULSE_RELIABILITY_EVENTS   events of part 1 (default 100000); the other
#                              PULSE_RELIABILITY_* knobs are listed in
#                              tests/src/reliability.rs (Config::from_env)
#   PULSE_RELIABILITY_SEED     replay a run (its seed is printed)
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

out="$REPO_ROOT/target/reliability"
mkdir -p "$out"
export PULSE_RELIABILITY_EVENTS="${PULSE_RELIABILITY_EVENTS:-100000}"

"$REPO_ROOT/infra/install-python.sh"
"$REPO_ROOT/infra/install-chromium.sh"
NODE_MODULES="$("$REPO_ROOT/infra/install-node-tools.sh")"

log "building the browser tracker (sdk-wasm/pkg)"
"$REPO_ROOT/sdk-wasm/scripts/build.sh" >&2

log "building the reliability suite"
cargo test -p pulse-tests --test reliability --no-run --quiet

started=$SECONDS
log "part 1: $PULSE_RELIABILITY_EVENTS events through the local stack (log: $out/stack.log)"
set +e
cargo test -p pulse-tests --test reliability --quiet -- --nocapture 2>&1 | tee "$out/stack.log"
stack_status=${PIPESTATUS[0]}
set -e
stack_secs=$((SECONDS - started))

log "part 2: the tracker offline for a simulated hour (log: $out/tracker.log)"
set +e
PULSE_NODE_MODULES="$NODE_MODULES" node --test --test-reporter=tap \
  "$REPO_ROOT/sdk-wasm/tests/e2e/offline_hour.test.mjs" >"$out/tracker.log" 2>&1
tracker_status=$?
set -e
# One PASS/FAIL line per tracker test, from the TAP report.
sed -nE 's/^ok [0-9]+ - (.*)$/PASS tracker: \1/p; s/^not ok [0-9]+ - (.*)$/FAIL tracker: \1 (see target\/reliability\/tracker.log)/p' \
  "$out/tracker.log"
sed -nE 's/^# (offline hour: .*)$/\1/p' "$out/tracker.log"

passed=$( (grep -hE '^PASS ' "$out/stack.log"; sed -nE 's/^ok [0-9]+ - .*/PASS/p' "$out/tracker.log") | wc -l)
failed=$( (grep -hE '^FAIL ' "$out/stack.log"; sed -nE 's/^not ok [0-9]+ - .*/FAIL/p' "$out/tracker.log") | wc -l)
if [[ $stack_status -ne 0 ]] && ! grep -qE '^FAIL ' "$out/stack.log"; then
  echo "FAIL stack: the suite stopped before its checks (exit $stack_status; see target/reliability/stack.log)"
  failed=$((failed + 1))
fi
if [[ $tracker_status -ne 0 ]] && ! grep -qE '^not ok' "$out/tracker.log"; then
  echo "FAIL tracker: node --test exited with $tracker_status (see target/reliability/tracker.log)"
  failed=$((failed + 1))
fi

log "part 1 took ${stack_secs} s"
echo "reliability suite (stack + tracker):"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
