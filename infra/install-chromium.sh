#!/usr/bin/env bash
# Debian's chromium + chromedriver: used by wasm-bindgen-test (headless) and by
# the Playwright end-to-end tests and benchmark (playwright-core drives it).
source "$(dirname "$0")/lib.sh"
apt_install chromium chromium-driver
log "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo missing)"
