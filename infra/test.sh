#!/usr/bin/env bash
# `make test` (and CI through .ci/run): fmt, template lint, clippy, unit and
# integration tests against moto server (each test starts its own), the API
# contract (schemathesis on openapi.yaml), then the browser tracker's tests in
# headless Chromium. Installs what it needs first.
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

step() { log "── $* ──"; }
started=$SECONDS

step "toolchain components"
rustup component add rustfmt clippy >/dev/null 2>&1 || warn "rustup could not add rustfmt/clippy (already there?)"
"$REPO_ROOT/infra/install-python.sh"

step "cargo fmt --check"
cargo fmt --all -- --check

step "template lint (cfn-lint, sam validate --lint)"
infra/lint-template.sh

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "unit and integration tests (moto server per test)"
cargo test --workspace --quiet

step "API contract: schemathesis (openapi.yaml) against the dev gateway"
infra/schemathesis.sh

step "dashboard: Playwright tests against the dev gateway (infra/test-dashboard.sh)"
infra/test-dashboard.sh

if [[ -x sdk-wasm/scripts/test.sh ]]; then
  step "browser tracker tests (wasm-bindgen-test + Playwright in headless Chromium)"
  sdk-wasm/scripts/test.sh
fi

log "all tests passed in $((SECONDS - started)) s"
