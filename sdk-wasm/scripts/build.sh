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

log "sdk: wasm-opt -Oz"
# The release profile strips the target-features section, so name the features Rust emits.
"$NODE_MODULES/.bin/wasm-opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
  --strip-debug --strip-producers "$WORK/glue/pulse_glue_bg.wasm" -o "$WORK/pulse_bg.wasm"

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
