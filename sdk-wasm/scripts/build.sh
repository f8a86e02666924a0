#!/usr/bin/env bash
# make sdk: cargo build (wasm32) → wasm-bindgen → wasm-opt (npm binaryen) →
# esbuild-minified JS front → sdk-wasm/pkg (package.json, pulse.js,
# pulse_bg.wasm, pulse.d.ts, README.md).
set -euo pipefail
SDK="$(cd "$(dirname "$0")/.." && pwd)"
INFRA="$SDK/../infra"
BINDGEN_BIN="$("$INFRA/install-wasm-tools.sh")"
NODE_MODULES="$("$INFRA/install-node-tools.sh")"
source "$INFRA/lib.sh"

TARGET_DIR="$REPO_ROOT/target/sdk-wasm"
WORK="$TARGET_DIR/pkg-build"
PKG="$SDK/pkg"

log "sdk: cargo build --release --target wasm32-unknown-unknown"
(cd "$SDK" && cargo build --quiet --release --target wasm32-unknown-unknown)

log "sdk: wasm-bindgen"
rm -rf "$WORK" && mkdir -p "$WORK/glue"
"$BINDGEN_BIN/wasm-bindgen" --target web --no-typescript --out-dir "$WORK/glue" --out-name pulse_glue \
  "$TARGET_DIR/wasm32-unknown-unknown/release/pulse_tracker.wasm"

# Short import names in the .wasm and the glue (they are in both, hashed).
node "$SDK/scripts/short-imports.mjs" "$WORK/glue/pulse_glue_bg.wasm" "$WORK/glue/pulse_glue.js"

log "sdk: wasm-opt -Oz"
# Name the features Rust emits (the target-features section is stripped from
# the output). Memory below 1 KiB is never used (the stack is at the start of
# memory and grows down from 1 MiB) and a fresh memory is zero-filled: both let
# wasm-opt fold more constants. --converge repeats -Oz while it still shrinks.
"$NODE_MODULES/.bin/wasm-opt" -Oz --converge --low-memory-unused --zero-filled-memory \
  --enable-bulk-memory --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
  --strip-debug --strip-producers --strip-target-features \
  "$WORK/glue/pulse_glue_bg.wasm" -o "$WORK/pulse_bg.wasm"

log "sdk: bundling and minifying the JS"
cp "$SDK/js/pulse.js" "$WORK/pulse.js"
"$NODE_MODULES/.bin/esbuild" "$WORK/pulse.js" --bundle --format=esm --minify --target=es2020 \
  --legal-comments=none --log-level=warning --log-override:duplicate-object-key=silent --outfile="$WORK/pulse.min.js"

rm -rf "$PKG" && mkdir -p "$PKG"
cp "$WORK/pulse.min.js" "$PKG/pulse.js"
cp "$WORK/pulse_bg.wasm" "$PKG/pulse_bg.wasm"
cp "$SDK/js/pulse.d.ts" "$SDK/js/package.json" "$SDK/js/README.md" "$PKG/"
wasm_bytes=$(stat -c %s "$PKG/pulse_bg.wasm")
js_bytes=$(stat -c %s "$PKG/pulse.js")
gz=$(cat "$PKG/pulse_bg.wasm" | gzip -9 | wc -c)
gzjs=$(cat "$PKG/pulse.js" | gzip -9 | wc -c)
log "sdk: built $PKG — wasm $wasm_bytes B (gzip $gz), js $js_bytes B (gzip $gzjs), total gzip $((gz + gzjs)) B"
