#!/usr/bin/env bash
# install-venv.sh NAME REQUIREMENTS: a Python venv at $PULSE_CACHE/venv-NAME
# (outside the clone) with the pinned packages of REQUIREMENTS. Idempotent:
# reinstalls only when that file changes. Prints the venv's bin directory.
# Separate venvs keep tools with conflicting pins (moto, aws-sam-cli,
# schemathesis) from fighting over shared dependencies.
source "$(dirname "$0")/lib.sh"

name=${1:?usage: install-venv.sh NAME REQUIREMENTS}
req=${2:?usage: install-venv.sh NAME REQUIREMENTS}
[[ -f $req ]] || die "missing $req"
venv="$PULSE_CACHE/venv-$name"
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  log "venv $name up to date ($venv)"
  echo "$venv/bin"
  exit 0
fi
command -v python3 >/dev/null || die "python3 is required"
if [[ ! -x "$venv/bin/python" ]]; then
  log "creating python venv at $venv"
  python3 -m venv "$venv" || { apt_install python3-venv; python3 -m venv "$venv"; }
fi
log "installing $(grep -cvE '^\s*(#|$)' "$req") pinned python packages into venv $name ($(basename "$req"))"
t0=$SECONDS
"$venv/bin/pip" install --disable-pip-version-check -q --progress-bar off -r "$req" >&2
echo "$want" >"$stamp"
log "venv $name ready in $((SECONDS - t0)) s"
echo "$venv/bin"
