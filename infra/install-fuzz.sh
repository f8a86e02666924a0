#!/usr/bin/env bash
# Installs what `make fuzz` needs, idempotently:
#   - the nightly Rust toolchain (cargo-fuzz builds with -Zsanitizer=address),
#   - cargo-fuzz from crates.io into the tool cache ($PULSE_TOOLS/bin),
#   - a C++ compiler (libfuzzer-sys compiles libFuzzer's C++ sources).
# Prints the cargo-fuzz binary path on stdout; progress goes to stderr.
. "$(dirname "$0")/lib.sh"

CARGO_FUZZ_VERSION="${CARGO_FUZZ_VERSION:-0.13.2}"
CARGO_FUZZ="$PULSE_TOOLS/bin/cargo-fuzz"

command -v rustup >/dev/null || die "rustup is required (it manages the nightly toolchain)"
if rustup toolchain list | grep -q '^nightly'; then
  log "nightly toolchain: present ($(rustup run nightly rustc --version))"
else
  log "nightly toolchain: installing (profile minimal, about a minute)"
  rustup toolchain install nightly --profile minimal >&2
fi

command -v c++ >/dev/null || apt_install g++

if [[ -x "$CARGO_FUZZ" ]] && "$CARGO_FUZZ" --version 2>/dev/null | grep -q " $CARGO_FUZZ_VERSION\$"; then
  log "cargo-fuzz $CARGO_FUZZ_VERSION: present in $PULSE_TOOLS/bin"
else
  log "cargo-fuzz $CARGO_FUZZ_VERSION: installing into $PULSE_TOOLS (cargo install, 1-3 min on 2 cores)"
  start=$SECONDS
  if ! cargo install --root "$PULSE_TOOLS" --locked --version "$CARGO_FUZZ_VERSION" cargo-fuzz >&2; then
    warn "cargo install --locked failed; retrying without --locked"
    cargo install --root "$PULSE_TOOLS" --version "$CARGO_FUZZ_VERSION" cargo-fuzz >&2
  fi
  log "cargo-fuzz installed in $((SECONDS - start)) s"
fi
echo "$CARGO_FUZZ"
