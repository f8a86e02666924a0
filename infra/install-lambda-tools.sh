#!/usr/bin/env bash
# Installs what cross-compiling the functions for Lambda (arm64) needs:
# cargo-lambda and zig (pinned, from PyPI: prebuilt, seconds instead of the
# ~25 min of `cargo install cargo-lambda` on 2 cores) into
# $PULSE_CACHE/venv-lambda, and the rustup target aarch64-unknown-linux-gnu.
# Idempotent. Prints the bin directory to put on PATH.
source "$(dirname "$0")/lib.sh"

bin=$("$REPO_ROOT/infra/install-venv.sh" lambda "$REPO_ROOT/infra/requirements-lambda.txt")
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  log "rustup: adding target aarch64-unknown-linux-gnu"
  rustup target add aarch64-unknown-linux-gnu >&2
fi
# cargo-lambda finds zig through `python3 -m ziglang` of the venv on PATH.
PATH="$bin:$PATH" cargo lambda --version >/dev/null 2>&1 || die "cargo-lambda in $bin does not run"
PATH="$bin:$PATH" python3 -m ziglang version >/dev/null 2>&1 || die "zig (ziglang) in $bin does not run"
log "cargo-lambda $(PATH="$bin:$PATH" cargo lambda --version | awk '{print $2}'), zig $(PATH="$bin:$PATH" python3 -m ziglang version) ready"
echo "$bin"
