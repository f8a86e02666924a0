#!/usr/bin/env bash
# Installs what building and testing the browser tracker needs from Rust:
# the wasm32 target and wasm-bindgen-cli at exactly the wasm-bindgen version in
# sdk-wasm/Cargo.lock (the CLI refuses modules made by any other version).
# Prints the bin directory of that wasm-bindgen-cli on stdout.
source "$(dirname "$0")/lib.sh"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "rustup: adding target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown >&2
fi

lock="$REPO_ROOT/sdk-wasm/Cargo.lock"
[[ -f $lock ]] || die "missing $lock"
V=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' "$lock")
[[ -n $V ]] || die "no wasm-bindgen version in $lock"
root="$PULSE_TOOLS/wasm-bindgen-$V"
if [[ -x $root/bin/wasm-bindgen && -x $root/bin/wasm-bindgen-test-runner ]] &&
  [[ $("$root/bin/wasm-bindgen" --version) == *"$V"* ]]; then
  log "wasm-bindgen-cli $V already in $root"
else
  # Without --locked: its locked tree asks for a crate release the registry
  # mirror does not serve. Takes 4-7 minutes on 2 cores.
  log "cargo install wasm-bindgen-cli $V into $root (about 5 minutes)"
  cargo install wasm-bindgen-cli --version "$V" --root "$root" >&2
  log "wasm-bindgen-cli $V installed"
fi
echo "$root/bin"
