#!/usr/bin/env bash
# `make test` (and CI through .ci/run): fmt, clippy, unit and integration tests
# against moto server (each test starts its own), then the browser tracker's
# tests in headless Chromium. Installs what it needs first.
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

step() { log "── $* ──"; }
started=$SECONDS

step "toolchain components"
rustup component add rustfmt clippy >/dev/null 2>&1 || warn "rustup could not add rustfmt/clippy (already there?)"
"$REPO_ROOT/infra/install-python.sh"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "unit and integration tests (moto server per test)"
cargo test --workspace --quiet

if [[ -x sdk-wasm/scripts/test.sh ]]; then
  step "browser tracker tests (wasm-bindgen-test + Playwright in headless Chromium)"
  sdk-wasm/scripts/test.sh
fi

log "all tests passed in $((SECONDS - started)) s"
