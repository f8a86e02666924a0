#!/usr/bin/env bash
# npm tools for the browser tracker (playwright-core, binaryen's wasm-opt,
# esbuild, and the peer trackers the benchmark compares against), installed
# into $PULSE_NODE from sdk-wasm/tools/package-lock.json. Skipped when the
# installed tree came from the same lock file. Prints the node_modules path.
source "$(dirname "$0")/lib.sh"
src="$REPO_ROOT/sdk-wasm/tools"
dest="$PULSE_NODE/sdk-tools"
hash=$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -d' ' -f1)
if [[ -f $dest/.lock-hash && $(cat "$dest/.lock-hash") == "$hash" && -d $dest/node_modules ]]; then
  log "node tools already installed in $dest"
else
  log "npm ci in $dest (playwright-core, binaryen, esbuild, peer trackers)"
  mkdir -p "$dest"
  cp "$src/package.json" "$src/package-lock.json" "$dest/"
  (cd "$dest" && npm ci --no-audit --no-fund --loglevel=error >&2)
  echo "$hash" >"$dest/.lock-hash"
  log "node tools installed"
fi
echo "$dest/node_modules"
