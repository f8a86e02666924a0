# The one entry point. Every target installs what it needs (idempotently) first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help dev test bench sdk test-sdk bench-sdk build-lambda deploy lint-template reliability fuzz cost load test-dashboard

help:
	@echo "make dev      run the whole stack locally (moto or LocalStack, dev gateway on :3000)"
	@echo "make test     fmt, clippy, unit, integration and browser tests"
	@echo "make bench    benchmarks (criterion + scripts that print numbers)"
	@echo "make sdk      build the browser tracker into sdk-wasm/pkg"
	@echo "make build-lambda  arm64 bootstrap binaries of the functions + sam build (.aws-sam/build)"
	@echo "make deploy   build-lambda, then sam deploy (guided the first time; ARGS=... for sam)"
	@echo "make lint-template  cfn-lint and sam validate --lint of template.yaml"
	@echo "make reliability    100,000 events through the local stack with duplicates, kills and poison"
	@echo "make fuzz     cargo-fuzz the event parser, Segment mapping and envelope decoder (bounded)"
	@echo "make cost     the bill per million events at AWS list prices, from measured figures"
	@echo "make load     load test of ingest through the dev gateway at increasing concurrency"
	@echo "make test-dashboard  the dashboard's Playwright tests against a local stack"

dev:
	@infra/dev.sh

test:
	@infra/test.sh

bench:
	@infra/bench.sh

sdk:
	@sdk-wasm/scripts/build.sh

test-sdk:
	@sdk-wasm/scripts/test.sh

bench-sdk:
	@sdk-wasm/scripts/bench.sh

build-lambda:
	@infra/build-lambda.sh

deploy: build-lambda
	@infra/deploy.sh $(ARGS)

lint-template:
	@infra/lint-template.sh

reliability:
	@infra/reliability.sh

fuzz:
	@infra/fuzz.sh

cost:
	@infra/cost.sh

load:
	@infra/load.sh

test-dashboard:
	@infra/test-dashboard.sh
