#!/usr/bin/env bash
# The Python venv of the local stack and tests: moto server (the default AWS
# emulator) and segment-analytics-python, pinned in infra/requirements.txt,
# at $PULSE_VENV. Idempotent (see install-venv.sh).
source "$(dirname "$0")/lib.sh"
"$REPO_ROOT/infra/install-venv.sh" core "$REPO_ROOT/infra/requirements.txt" >/dev/null
