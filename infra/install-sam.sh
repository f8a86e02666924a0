#!/usr/bin/env bash
# AWS SAM CLI and cfn-lint (pinned in infra/requirements-sam.txt) in their own
# venv, $PULSE_CACHE/venv-sam (~80 s the first time, then skipped).
# Prints the bin directory to put on PATH.
source "$(dirname "$0")/lib.sh"
"$REPO_ROOT/infra/install-venv.sh" sam "$REPO_ROOT/infra/requirements-sam.txt"
