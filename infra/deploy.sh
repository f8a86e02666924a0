#!/usr/bin/env bash
# `make deploy`: `sam deploy` of .aws-sam/build (run `make build-lambda`
# first; the Makefile does) with the defaults of samconfig.toml.
# The first time (no stack of that name in the account and region yet) it runs
# `sam deploy --guided`, which asks for the stack name, region and parameters
# and saves the answers in samconfig.toml. PULSE_DEPLOY_GUIDED=1 forces the
# guided mode, =0 skips it (CI: the samconfig defaults are enough); extra
# arguments go to `sam deploy` (e.g. `make deploy ARGS="--config-env staging"`);
# PULSE_STACK_NAME overrides the stack name of samconfig.toml.
# Needs AWS credentials (the standard environment, profile or SSO session).
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

sam_bin=$("$REPO_ROOT/infra/install-sam.sh")
export PATH="$sam_bin:$PATH"
export SAM_CLI_TELEMETRY=0

[[ -f .aws-sam/build/template.yaml ]] || die "no .aws-sam/build: run make build-lambda first"
if [[ -n "${AWS_ENDPOINT_URL:-}" ]]; then
  warn "AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL is set: sam deploys to AWS all the same (use samlocal for LocalStack, see README)"
fi

# Credentials from the standard chain (env, profile, SSO, instance role);
# checked offline so a missing login fails fast with a clear message.
"$sam_bin/python" -c 'import boto3, sys; sys.exit(boto3.Session().get_credentials() is None)' ||
  die "no AWS credentials: set AWS_PROFILE (aws sso login) or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"

stack=$(awk -F'"' '/^stack_name *=/ {print $2; exit}' samconfig.toml)
region=$(awk -F'"' '/^region *=/ {print $2; exit}' samconfig.toml)
stack=${PULSE_STACK_NAME:-${stack:-pulse}}
region=${AWS_REGION:-${AWS_DEFAULT_REGION:-${region:-us-east-1}}}

guided=${PULSE_DEPLOY_GUIDED:-}
if [[ -z $guided ]]; then
  # The stack answers with its outputs once it exists (this also checks the
  # credentials, with a clear error when there are none).
  if sam list stack-outputs --stack-name "$stack" --region "$region" --output json >/dev/null 2>&1; then
    guided=0
  elif [[ -t 0 ]]; then
    log "no stack $stack in $region yet: guided deploy (answers are saved to samconfig.toml)"
    guided=1
  else
    log "no stack $stack in $region yet and no terminal: deploying with the samconfig.toml defaults"
    guided=0
  fi
fi

args=(--stack-name "$stack" --region "$region")
# Without a terminal nobody can answer the change-set prompt.
[[ -t 0 ]] || args+=(--no-confirm-changeset)
if [[ $guided == 1 ]]; then
  sam deploy --guided "${args[@]}" "$@"
else
  sam deploy "${args[@]}" "$@"
fi
log "stack $stack deployed; outputs:"
sam list stack-outputs --stack-name "$stack" --region "$region" --output table
