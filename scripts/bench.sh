#!/usr/bin/env bash
# Benchmarks (release build); print numbers, assert nothing. Not part of the test command.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="--cfg erase_components" # as run.sh builds the release app
cargo bench -p server --bench launch --features sandbox
