#!/usr/bin/env bash
# Runs every test: unit and integration (cargo), then end-to-end in Debian's Chromium (Playwright).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$HOME/.cargo/bin:$(pwd)/end2end/node_modules/.bin:$PATH"
# cargo-leptos builds dev binaries with this flag; using it here too lets `cargo test` and
# `cargo leptos build` share one set of compiled dependencies instead of building everything twice.
export RUSTFLAGS="--cfg erase_components"

printf '\n==> unit and integration tests\n'
# frontend/ is the WASM entry (hydrate): built into the same test binary it would switch Leptos to
# its browser executor, so it is built by cargo-leptos only.
cargo test --workspace --exclude frontend --locked

printf '\n==> building the app (server + WASM) for end-to-end tests\n'
cargo leptos build

printf '\n==> end-to-end tests (Chromium)\n'
cd end2end
npx playwright test
