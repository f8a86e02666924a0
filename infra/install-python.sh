#!/usr/bin/env bash
# Python venv with moto server (the default AWS emulator) and the test peers.
# Idempotent: reinstalls only when infra/requirements.txt changes.
source "$(dirname "$0")/lib.sh"

req="$REPO_ROOT/infra/requirements.txt"
stamp="$PULSE_VENV/.requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [[ -x "$PULSE_VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  log "python venv up to date ($PULSE_VENV)"
  exit 0
fi
command -v python3 >/dev/null || die "python3 is required"
if [[ ! -x "$PULSE_VENV/bin/python" ]]; then
  log "creating python venv at $PULSE_VENV"
  python3 -m venv "$PULSE_VENV" || { apt_install python3-venv; python3 -m venv "$PULSE_VENV"; }
fi
log "installing python packages (moto server, segment-analytics-python; about a minute the first time)"
"$PULSE_VENV/bin/pip" install --disable-pip-version-check -q --progress-bar off -r "$req"
echo "$want" >"$stamp"
log "python venv ready"
