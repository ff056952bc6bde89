#!/usr/bin/env bash
# Benchmarks (release build); print numbers, assert nothing. Not part of the test command.
#   scripts/bench.sh            SQLite, one instance
#   scripts/bench.sh all        SQLite, then PostgreSQL with 1, 2 and 3 instances (a throwaway
#                               cluster under target/pg, as the tests use)
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="--cfg erase_components" # as run.sh builds the release app
cargo bench -p server --bench launch --features sandbox
if [ "${1:-}" = "all" ]; then
  PG_URL=$(./scripts/pg.sh start)
  trap './scripts/pg.sh stop' EXIT
  for n in 1 2 3; do
    BENCH_POSTGRES="$PG_URL" BENCH_INSTANCES=$n cargo bench -p server --bench launch --features sandbox
  done
fi
