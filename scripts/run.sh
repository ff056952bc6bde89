#!/usr/bin/env bash
# Sets up this machine (idempotent) and runs the app with the embedded sandbox EHR.
#   app:         http://localhost:3000
#   sandbox EHR: http://127.0.0.1:3100  <- open this, pick a patient, click "Refer (modal)"
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$HOME/.cargo/bin:$(pwd)/end2end/node_modules/.bin:$PATH"
# Components erased to AnyView: a 20% smaller release WASM (855 KB vs 1,007 KB raw) and the same
# compiled dependencies as the test command.
export RUSTFLAGS="--cfg erase_components"
# The `sandbox` feature builds in the sandbox EHR this command runs against (development only: a
# production build is `cargo leptos build --release`, without it).
exec cargo leptos serve --release --bin-features sandbox "$@"
