#!/usr/bin/env bash
# `make cost`: the bill per million events at AWS list prices (us-east-1,
# arm64) from what `make bench` measured (target/bench/report.json), or from
# documented defaults where it has not run (the output says which). Prices,
# their sources and dates are constants in tools/bench/src/cost.rs.
# Assumptions are flags: `infra/cost.sh --events-per-request 1 --retention-days 90`
# (or PULSE_COST_ARGS="..." make cost); `--help`-like details in tools/bench/src/bin/cost.rs.
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
# Without the measuring harness the cost tool needs only serde: seconds to build.
log "building the cost tool"
cargo build --release -q -p pulse-bench --no-default-features --bin cost
# shellcheck disable=SC2086 # PULSE_COST_ARGS is a list of flags
target/release/cost ${PULSE_COST_ARGS:-} "$@"
