#!/usr/bin/env bash
# `make build-lambda`: the three functions as arm64 `bootstrap` binaries for
# the provided.al2023 runtime, through `sam build` (template.yaml:
# BuildMethod rust-cargolambda, which runs `cargo lambda build --release
# --arm64 --bin <name>` and copies target/lambda/<name>/bootstrap into
# .aws-sam/build/<Function>/). Installs cargo-lambda + zig and the SAM CLI
# first (idempotent). Prints binary sizes and the build time.
# Not part of `make test`: a clean release cross-build takes several minutes.
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

started=$SECONDS
lambda_bin=$("$REPO_ROOT/infra/install-lambda-tools.sh")
sam_bin=$("$REPO_ROOT/infra/install-sam.sh")
export PATH="$lambda_bin:$sam_bin:$PATH"
export SAM_CLI_TELEMETRY=0

functions=(ingest consumer query)
# One cargo invocation for all three binaries first: it compiles the shared
# dependency tree once with both cores and shows cargo's own progress. The
# per-function builds `sam build` runs next then only link (or find
# everything fresh).
log "cargo lambda build --release --arm64 (${functions[*]}); a clean build takes ~5 min on 2 cores"
t0=$SECONDS
cargo lambda build --release --arm64 $(printf -- '--bin %s ' "${functions[@]}")
cargo_secs=$((SECONDS - t0))

log "sam build (template.yaml → .aws-sam/build)"
t0=$SECONDS
sam build --template-file template.yaml
sam_secs=$((SECONDS - t0))

log "arm64 bootstrap binaries:"
for f in "${functions[@]}"; do
  logical="${f^}Function"
  bin=".aws-sam/build/$logical/bootstrap"
  [[ -x $bin ]] || die "$bin is missing"
  # ELF e_machine (bytes 18-19, little endian) 0xb7 is aarch64.
  [[ $(od -An -tx1 -j18 -N1 "$bin" | tr -d ' ') == b7 ]] || die "$bin is not an arm64 executable"
  # provided.al2023 ships glibc 2.34: the binary must not need a newer one.
  if command -v readelf >/dev/null; then
    glibc=$(readelf -V "$bin" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
    [[ $(printf '%s\n2.34\n' "$glibc" | sort -V | tail -1) == 2.34 ]] ||
      die "$bin needs glibc $glibc; provided.al2023 has 2.34"
  fi
  size=$(stat -c %s "$bin")
  zipped=$(gzip -9 -c "$bin" | wc -c)
  awk -v f="$f" -v s="$size" -v z="$zipped" -v g="${glibc:-?}" -v b="$bin" 'BEGIN {
    printf "  %-9s %5.1f MiB  (%4.1f MiB gzipped, about the deployment zip; glibc >= %s)  %s\n", f, s / 1048576, z / 1048576, g, b
  }' >&2
done
log "build-lambda done in $((SECONDS - started)) s (cargo lambda ${cargo_secs} s, sam build ${sam_secs} s)"
log "next: make deploy"
