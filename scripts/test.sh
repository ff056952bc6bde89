#!/usr/bin/env bash
# Runs every test: unit and integration (cargo), then end-to-end in Debian's Chromium (Playwright).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$HOME/.cargo/bin:$(pwd)/end2end/node_modules/.bin:$PATH"
# cargo-leptos builds dev binaries with this flag; using it here too lets `cargo test` and
# `cargo leptos build` share one set of compiled dependencies instead of building everything twice.
export RUSTFLAGS="--cfg erase_components"

START=$(date +%s)
step() { printf '\n==> %s (at %ss)\n' "$*" "$(( $(date +%s) - START ))"; }

step "unit and integration tests"
# cargo-nextest: one process per test (see .config/nextest.toml). frontend/ is the WASM entry
# (hydrate): built into the same test binary it would switch Leptos to its browser executor, so it
# is built by cargo-leptos only. The tests run against the built-in sandbox EHR (the `sandbox`
# feature; production builds leave it out).
# The load test's full 10,000 launches run in the PostgreSQL pass, across 3 instances; here, on
# SQLite's one instance, 1,000.
EREFERRAL_LOAD_LAUNCHES=1000 cargo nextest run --workspace --exclude frontend --locked --features server/sandbox

step "integration tests again, on PostgreSQL (a throwaway cluster under target/pg)"
# The same test binaries: each test's server gets a database of its own in the cluster instead of
# a SQLite file (tests/common: EREFERRAL_TEST_POSTGRES). Unit tests touch no database.
./scripts/pg.sh stop
rm -rf target/pg
PG_URL=$(./scripts/pg.sh start)
trap './scripts/pg.sh stop' EXIT
EREFERRAL_TEST_POSTGRES="$PG_URL" EREFERRAL_TEST_PG_DATA="$(pwd)/target/pg/data" \
  cargo nextest run --workspace --exclude frontend --locked --features server/sandbox -E 'package(server) & kind(test)'
./scripts/pg.sh stop
trap - EXIT

step "building the app (server + WASM) for end-to-end tests"
cargo leptos build --bin-features sandbox

step "end-to-end tests (Chromium)"
(cd end2end && npx playwright test)
step "all tests passed"
