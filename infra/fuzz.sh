#!/usr/bin/env bash
# `make fuzz`: builds the cargo-fuzz targets of fuzz/ (nightly, AddressSanitizer,
# debug assertions and overflow checks on) and runs each for a bounded time.
#
#   PULSE_FUZZ_SECONDS   seconds per target (default 60)
#   PULSE_FUZZ_TARGETS   space-separated subset (default: all three)
#
# Corpora live in target/fuzz/corpus/<target> (kept between runs, seeded from
# the committed inputs in functions/core/tests/fuzz_inputs/<target>, which
# `cargo test -p pulse-core --test fuzz_regressions` replays). A crash, hang
# or leak is written to target/fuzz/artifacts/<target>/ and makes this script
# exit non-zero. Figures are also written to target/fuzz/report.json.
. "$(dirname "$0")/lib.sh"

SECS="${PULSE_FUZZ_SECONDS:-60}"
TARGETS="${PULSE_FUZZ_TARGETS:-event_parser segment_mapping envelope_decoder}"
[[ "$SECS" =~ ^[0-9]+$ ]] && ((SECS > 0)) || die "PULSE_FUZZ_SECONDS must be a positive whole number"

# Largest input per target: above the 32 KiB event limit for the body parsers,
# so the per-event size check is reachable; SQS bodies are shorter to keep the
# decoders fast (the packer round trip needs a few hundred bytes).
max_len() {
  case "$1" in
    event_parser | segment_mapping) echo 40000 ;;
    envelope_decoder) echo 16384 ;;
    *) die "unknown fuzz target $1" ;;
  esac
}

CARGO_FUZZ="$("$REPO_ROOT/infra/install-fuzz.sh")"
export PATH="$(dirname "$CARGO_FUZZ"):$PATH"
# Its own target dir: no fight over the main target dir's lock.
export CARGO_TARGET_DIR="$REPO_ROOT/target/fuzz"
OUT="$CARGO_TARGET_DIR"
BIN_DIR="$OUT/x86_64-unknown-linux-gnu/release"
INPUTS="$REPO_ROOT/functions/core/tests/fuzz_inputs"
mkdir -p "$OUT"

cd "$REPO_ROOT"
log "building fuzz targets ($TARGETS) with cargo +nightly fuzz build -a (the first build takes ~2 min)"
start=$SECONDS
# shellcheck disable=SC2086
for t in $TARGETS; do
  cargo +nightly fuzz build --debug-assertions "$t" >&2
done
BUILD_SECS=$((SECONDS - start))
log "built in ${BUILD_SECS} s"

status=0
report="["
sep=""
rows=()
for t in $TARGETS; do
  corpus="$OUT/corpus/$t"
  artifacts="$OUT/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  seeds=0
  if [[ -d "$INPUTS/$t" ]]; then
    for f in "$INPUTS/$t"/*; do
      [[ -f "$f" ]] || continue
      cp -n "$f" "$corpus/" && seeds=$((seeds + 1))
    done
  fi
  before=$(find "$artifacts" -type f | wc -l)
  stamp="$OUT/$t.started"
  touch "$stamp"
  log "fuzzing $t for ${SECS} s (max_len $(max_len "$t"), $seeds committed inputs, corpus $(find "$corpus" -type f | wc -l) files)"
  logfile="$OUT/$t.log"
  rc=0
  "$BIN_DIR/$t" "$corpus" \
    -max_total_time="$SECS" \
    -max_len="$(max_len "$t")" \
    -timeout=10 \
    -rss_limit_mb=2048 \
    -dict="$REPO_ROOT/fuzz/json.dict" \
    -artifact_prefix="$artifacts/" \
    -print_final_stats=1 \
    >"$logfile" 2>&1 || rc=$?
  # Executions: the final stats, or the last status line when it stopped on a crash.
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logfile" | tail -1)
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logfile" | tail -1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$logfile" | tail -1)
  if [[ -z "$execs" ]]; then
    last=$(grep -E '^#[0-9]+' "$logfile" | tail -1 || true)
    execs=$(sed -E 's/^#([0-9]+).*/\1/' <<<"$last")
    eps=$(sed -nE 's/.*exec\/s: ([0-9]+).*/\1/p' <<<"$last")
    rss=$(sed -nE 's/.*rss: ([0-9]+)Mb.*/\1/p' <<<"$last")
  fi
  cov=$(grep -E '^#[0-9]+' "$logfile" | tail -1 | sed -nE 's/.*cov: ([0-9]+).*/\1/p' || true)
  found=$(($(find "$artifacts" -type f | wc -l) - before))
  if ((rc != 0 || found > 0)); then
    status=1
    warn "$t: FOUND A PROBLEM (exit $rc, $found new artifact(s) in $artifacts)"
    grep -E -m 5 'panicked|ERROR: |SUMMARY' "$logfile" >&2 || true
    for a in $(find "$artifacts" -type f -newer "$stamp"); do
      warn "  reproduce: $BIN_DIR/$t $a"
      warn "  keep it:   cp $a $INPUTS/$t/crash-<what>.json  (replayed by cargo test -p pulse-core --test fuzz_regressions)"
    done
  fi
  corpus_n=$(find "$corpus" -type f | wc -l)
  rows+=("$(printf '%-18s %12s %10s %8s %8s %8s %8s' "$t" "${execs:-?}" "${eps:-?}" "${cov:-?}" "$corpus_n" "${rss:-?}" "$found")")
  report+="$sep{\"target\":\"$t\",\"seconds\":$SECS,\"executions\":${execs:-null},\"exec_per_sec\":${eps:-null},\"coverage\":${cov:-null},\"corpus\":$corpus_n,\"peak_rss_mb\":${rss:-null},\"crashes\":$found,\"exit\":$rc}"
  sep=","
done
report+="]"
printf '{"build_seconds":%s,"targets":%s}\n' "$BUILD_SECS" "$report" >"$OUT/report.json"

printf '\n%-18s %12s %10s %8s %8s %8s %8s\n' target executions exec/s cov corpus rss_mb crashes
printf '%s\n' "${rows[@]}"
printf '(%s s per target; build %s s; logs in %s/<target>.log; report %s/report.json)\n' "$SECS" "$BUILD_SECS" "$OUT" "$OUT"
if ((status != 0)); then
  die "fuzzing found crashes: fix them, then keep each input under functions/core/tests/fuzz_inputs/<target>/"
fi
log "no crashes"
