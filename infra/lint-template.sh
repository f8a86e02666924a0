#!/usr/bin/env bash
# Lints template.yaml with cfn-lint and `sam validate --lint` (offline, no
# credentials). Part of `make test`. Neither linter knows the event source's
# FunctionResponseTypes values: tests/tests/template_drift.rs checks those.
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

sam_bin=$("$REPO_ROOT/infra/install-sam.sh")
export SAM_CLI_TELEMETRY=0
log "cfn-lint template.yaml"
"$sam_bin/cfn-lint" template.yaml
log "sam validate --lint"
"$sam_bin/sam" validate --lint --region us-east-1 -t template.yaml
