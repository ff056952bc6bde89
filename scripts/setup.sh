#!/usr/bin/env bash
# Installs what building, running and testing need, and skips whatever is already there at the
# right version (a second run takes seconds). Safe to run any number of times.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

CARGO_LEPTOS_VERSION=0.3.10
# wasm-bindgen-cli must equal the wasm-bindgen crate in Cargo.lock.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)

export PATH="$HOME/.cargo/bin:$ROOT/end2end/node_modules/.bin:$PATH"
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

step() { printf '\n==> %s\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if ! cargo nextest --version >/dev/null 2>&1; then
  step "installing cargo-nextest (the test runner)"
  cargo install --locked cargo-nextest
fi

if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
  step "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 25 minutes on 2 cores, once)"
  cargo install --locked --features no_downloads cargo-leptos --version "$CARGO_LEPTOS_VERSION"
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$"; then
  step "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (must match Cargo.lock)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

if ! command -v chromium >/dev/null 2>&1; then
  step "installing Debian's chromium (for the end-to-end tests)"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi

# PostgreSQL's server binaries (initdb, pg_ctl): the tests run the whole suite on PostgreSQL too,
# in a throwaway cluster under target/pg (scripts/pg.sh). Debian's packages; nothing is started here.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  step "installing Debian's PostgreSQL server packages (for the PostgreSQL tests)"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
fi

# Playwright (driving /usr/bin/chromium, never its own browser download) and wasm-opt from
# npm binaryen 132 (Debian's binaryen 108 breaks hydration).
if ! (cd end2end && npm ls --depth=0 >/dev/null 2>&1); then
  step "installing end2end npm packages"
  (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi

# The independent FHIR R4 validator the tests call (Python venv with fhir.resources from PyPI).
./scripts/fhir-validator/setup.sh

printf '\nsetup: ready (cargo-leptos %s, wasm-bindgen %s, %s, wasm-opt %s)\n' \
  "$CARGO_LEPTOS_VERSION" "$WASM_BINDGEN_VERSION" "$(chromium --version 2>/dev/null | head -1)" \
  "$(wasm-opt --version 2>/dev/null | head -1)"
