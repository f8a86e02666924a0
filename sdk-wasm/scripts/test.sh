#!/usr/bin/env bash
# make test-sdk: fmt + clippy, wasm-bindgen-test unit tests in headless
# Chromium, then the Playwright end-to-end suite against the built package.
# Exits non-zero on any failure.
set -euo pipefail
SDK="$(cd "$(dirname "$0")/.." && pwd)"
INFRA="$SDK/../infra"
"$INFRA/install-chromium.sh"
BINDGEN_BIN="$("$INFRA/install-wasm-tools.sh")"
NODE_MODULES="$("$INFRA/install-node-tools.sh")"
source "$INFRA/lib.sh"
cd "$SDK"

log "sdk: cargo fmt --check"
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt >&2
cargo fmt --check

log "sdk: cargo clippy (wasm32, -D warnings)"
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy >&2
# The shipped wasm is no_std; the unit tests link std (feature "std").
cargo clippy --quiet --target wasm32-unknown-unknown -- -D warnings
cargo clippy --quiet --target wasm32-unknown-unknown --all-targets --features std -- -D warnings

log "sdk: unit tests (wasm-bindgen-test, headless Chromium)"
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER="$BINDGEN_BIN/wasm-bindgen-test-runner" \
  CHROMEDRIVER=/usr/bin/chromedriver \
  cargo test --target wasm32-unknown-unknown --features std

log "sdk: building the package"
"$SDK/scripts/build.sh"

log "sdk: end-to-end tests (Playwright + Debian chromium + Node receiver)"
PULSE_NODE_MODULES="$NODE_MODULES" node --test --test-concurrency=1 "$SDK/tests/e2e/"
