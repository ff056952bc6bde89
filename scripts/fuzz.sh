#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo fuzz / libFuzzer) of the server's parsers of outside input.
# NOT part of CI: run by hand, e.g. before a release or after touching a parser.
#
#   scripts/fuzz.sh                      every target, 1,000,000 executions each, then cmin
#   scripts/fuzz.sh inbound_message ...  only these targets
#   scripts/fuzz.sh --replay [target...] run the committed corpus and fuzz/regressions once (quick
#                                        check that a fix holds; no fuzzing, no cmin)
#   scripts/fuzz.sh --list               the targets
#
# Environment:
#   FUZZ_RUNS=1000000        executions per target (libFuzzer -runs)
#   FUZZ_MAX_TIME=           seconds per target (libFuzzer -max_total_time), if set; without it
#                            only client_assertion_signed has a budget (1800 s: ~28 ms per input)
#   FUZZ_TIMEOUT=10          seconds one input may take before it counts as a hang
#   FUZZ_SANITIZER=address   address (default) or none (faster, finds panics and hangs only)
#   FUZZ_CMIN=1              0 to keep the corpus unminimised after the runs
#   FUZZ_ARGS=               extra libFuzzer flags, e.g. "-seed=1 -only_ascii=1"
#   CARGO_BUILD_JOBS         as usual (1 when the machine is shared)
#
# Stable Rust only: RUSTC_BOOTSTRAP=1 lets cargo fuzz pass its -Z flags to the stable compiler.
# Runs at nice 10, one libFuzzer process at a time (libFuzzer's default: no -jobs/-workers/-fork).
# Logs: fuzz/target/fuzz-logs/<target>.log. A crash's reproducer is minimised (cargo fuzz tmin)
# into fuzz/regressions/<target>/. Exits 1 when any target crashed (after running all of them).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export RUSTC_BOOTSTRAP=1

RUNS=${FUZZ_RUNS:-1000000}
TIMEOUT=${FUZZ_TIMEOUT:-10}
SANITIZER=${FUZZ_SANITIZER:-address}
CMIN=${FUZZ_CMIN:-1}
read -r -a EXTRA <<<"${FUZZ_ARGS:-}"

# target                max_len  dictionary  time budget (s; "-": none. FUZZ_MAX_TIME overrides)
TABLE="
inbound_message           65536  json       -
event_coding               4096  json       -
fhir_reference             4096  url        -
fhir_resources_read       65536  json       -
outbound_answers          16384  json       -
client_assertion           8192  jwt        -
client_assertion_signed    4096  jwt        1800
wizard_form               32768  form       -
multipart_upload          65536  multipart  -
service_catalogue         65536  json       -
message_bundle_checks     65536  json       -
staff_action               4096  form       -
token_response            16384  json       -
misc_inputs                4096  url        -
"
declare -A MAX_LEN DICT BUDGET
ALL=()
while read -r name len dict budget; do
  [ -z "$name" ] && continue
  ALL+=("$name")
  MAX_LEN[$name]=$len
  DICT[$name]=$dict
  BUDGET[$name]=$budget
done <<<"$TABLE"

mode=fuzz
case "${1:-}" in
  --list) printf '%s\n' "${ALL[@]}"; exit 0 ;;
  --replay) mode=replay; shift ;;
esac
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then TARGETS=("${ALL[@]}"); fi
for t in "${TARGETS[@]}"; do
  if [ -z "${MAX_LEN[$t]:-}" ]; then
    echo "unknown target $t; the targets are: ${ALL[*]}" >&2
    exit 2
  fi
done

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "==> installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

FLAGS=(--fuzz-dir fuzz --sanitizer "$SANITIZER")
echo "==> building the fuzz targets (sanitizer: $SANITIZER)"
nice -n 10 cargo fuzz build "${FLAGS[@]}"

LOGS=fuzz/target/fuzz-logs
mkdir -p "$LOGS"

if [ "$mode" = replay ]; then
  failed=0
  for t in "${TARGETS[@]}"; do
    mkdir -p "fuzz/corpus/$t" "fuzz/regressions/$t"
    if nice -n 10 cargo fuzz run "${FLAGS[@]}" "$t" "fuzz/corpus/$t" "fuzz/regressions/$t" -- \
      -runs=0 -max_len="${MAX_LEN[$t]}" -timeout="$TIMEOUT" >"$LOGS/$t.replay.log" 2>&1; then
      echo "$t: ok ($(find "fuzz/corpus/$t" "fuzz/regressions/$t" -type f | wc -l) inputs)"
    else
      echo "$t: FAILED, see $LOGS/$t.replay.log"
      failed=1
    fi
  done
  exit $failed
fi

SUMMARY=()
crashed=0
for t in "${TARGETS[@]}"; do
  corpus="fuzz/corpus/$t"
  log="$LOGS/$t.log"
  mkdir -p "$corpus"
  budget=${FUZZ_MAX_TIME:-${BUDGET[$t]}}
  limit=()
  if [ "$budget" != "-" ]; then limit=("-max_total_time=$budget"); fi
  echo "==> $t: $RUNS runs${limit:+ or ${budget}s}, max_len ${MAX_LEN[$t]}, dict ${DICT[$t]} (log: $log)"
  start=$(date +%s)
  set +e
  nice -n 10 cargo fuzz run "${FLAGS[@]}" "$t" "$corpus" -- \
    -runs="$RUNS" -dict="fuzz/dicts/${DICT[$t]}.dict" -max_len="${MAX_LEN[$t]}" -timeout="$TIMEOUT" \
    -print_final_stats=1 "${limit[@]}" "${EXTRA[@]}" >"$log" 2>&1
  rc=$?
  set -e
  secs=$(($(date +%s) - start))
  execs=$(grep -aoE '^stat::number_of_executed_units: [0-9]+' "$log" | tail -1 | awk '{print $2}' || true)
  [ -z "$execs" ] && execs=$(grep -aoE '^Done [0-9]+ runs' "$log" | tail -1 | awk '{print $2}' || true)
  last=$(grep -aE '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(grep -aoE 'cov: [0-9]+' <<<"$last" | awk '{print $2}' || true)
  ft=$(grep -aoE 'ft: [0-9]+' <<<"$last" | awk '{print $2}' || true)
  if [ "$rc" -eq 0 ]; then
    verdict="no crash"
  else
    crashed=1
    artifact=$(grep -aoE 'Test unit written to [^ ]+' "$log" | tail -1 | awk '{print $NF}' || true)
    verdict="CRASH (exit $rc)"
    if [ -n "$artifact" ] && [ -f "$artifact" ]; then
      echo "    crash: $artifact; minimising"
      grep -aE 'panicked at|ERROR: (libFuzzer|AddressSanitizer)' "$log" | head -3 | sed 's/^/    /' || true
      mkdir -p "fuzz/regressions/$t"
      marker=$(mktemp)
      nice -n 10 cargo fuzz tmin "${FLAGS[@]}" "$t" "$artifact" -- -timeout="$TIMEOUT" \
        >"$LOGS/$t.tmin.log" 2>&1 || true
      # As cargo fuzz itself does: the minimised input is the newest artifact since tmin started.
      min=$(find "fuzz/artifacts/$t" -type f -newer "$marker" -printf '%T@ %p\n' | sort -n | tail -1 | cut -d' ' -f2-)
      rm -f "$marker"
      [ -z "$min" ] && min=$artifact
      cp "$min" "fuzz/regressions/$t/$(basename "$artifact")"
      verdict="$verdict: fuzz/regressions/$t/$(basename "$artifact")"
    fi
  fi
  SUMMARY+=("$(printf '%-22s runs %-9s %6ss  cov %-6s ft %-6s  %s' "$t" "${execs:-?}" "$secs" "${cov:-?}" "${ft:-?}" "$verdict")")
  echo "    ${SUMMARY[-1]}"
done

if [ "$CMIN" = 1 ]; then
  for t in "${TARGETS[@]}"; do
    before=$(find "fuzz/corpus/$t" -type f | wc -l)
    nice -n 10 cargo fuzz cmin "${FLAGS[@]}" "$t" "fuzz/corpus/$t" -- -max_len="${MAX_LEN[$t]}" \
      -timeout="$TIMEOUT" >"$LOGS/$t.cmin.log" 2>&1 || echo "    $t: cmin failed, see $LOGS/$t.cmin.log"
    echo "==> cmin $t: $before -> $(find "fuzz/corpus/$t" -type f | wc -l) inputs, $(du -sh "fuzz/corpus/$t" | cut -f1)"
  done
fi

echo
echo "==> summary"
printf '%s\n' "${SUMMARY[@]}"
echo "corpus: $(du -sh fuzz/corpus | cut -f1) on disk, $(find fuzz/corpus -type f -printf '%s\n' | awk '{s+=$1} END {printf "%.0f KB", s/1024}') of inputs, $(find fuzz/corpus -type f | wc -l) files"
exit $crashed
