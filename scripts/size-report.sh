#!/usr/bin/env bash
# What a browser downloads for the first wizard step, release build: the page HTML (after a real
# launch through the sandbox EHR), the CSS, the JS glue and the WASM, in bytes on the wire with
# gzip and with brotli (the server compresses both), and raw. Prints numbers; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh >/dev/null
export PATH="$HOME/.cargo/bin:$(pwd)/end2end/node_modules/.bin:$PATH"
export RUSTFLAGS="--cfg erase_components" # as scripts/run.sh builds it
cargo leptos build --release --bin-features sandbox

APP=127.0.0.1:3600
EHR=127.0.0.1:3610
work=$(mktemp -d)
EREFERRAL_LISTEN=$APP EREFERRAL_PUBLIC_URL=http://localhost:3600 EREFERRAL_SANDBOX_LISTEN=$EHR \
  EREFERRAL_SANDBOX_PUBLIC_URL=http://$EHR EREFERRAL_DATA_DIR="$work/data" EREFERRAL_LOG=warn \
  LEPTOS_OUTPUT_NAME=ereferral LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_PKG_DIR=pkg \
  target/release/server &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -fs "http://$APP/healthz" >/dev/null && break; sleep 0.1; done

launch_url=$(curl -fs -X POST -H 'content-type: application/json' \
  -d '{"patient_id":"pat-1","mode":"tab","web_messaging":false}' "http://$EHR/ehr/launches" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["launch_url"])')
page_url=$(curl -fs -L -c "$work/jar" -b "$work/jar" -o /dev/null -w '%{url_effective}' "$launch_url")

size() { # url encoding -> bytes on the wire
  curl -fs -b "$work/jar" -H "Accept-Encoding: $2" -o /dev/null -w '%{size_download}' "$1"
}
printf '%-28s %10s %10s %10s\n' "first wizard step" "raw" "gzip" "br"
total_raw=0 total_gz=0 total_br=0
for name in "page HTML|$page_url" "CSS|http://$APP/pkg/ereferral.css" "JS|http://$APP/pkg/ereferral.js" \
  "WASM|http://$APP/pkg/ereferral.wasm"; do
  label=${name%%|*}; url=${name#*|}
  raw=$(size "$url" identity); gz=$(size "$url" gzip); br=$(size "$url" br)
  total_raw=$((total_raw + raw)); total_gz=$((total_gz + gz)); total_br=$((total_br + br))
  printf '%-28s %10s %10s %10s\n' "$label" "$raw" "$gz" "$br"
done
printf '%-28s %10s %10s %10s\n' "total" "$total_raw" "$total_gz" "$total_br"
