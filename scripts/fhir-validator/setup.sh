#!/usr/bin/env bash
# Creates the Python venv of the FHIR validator ($CARGO_TARGET_DIR or target/, fhir-validator-venv),
# and skips it when the venv already holds exactly requirements.txt. Prints one line.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-target}"
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac # as the tests resolve it
VENV="$TARGET/fhir-validator-venv"
WANT="$(grep -E '^fhir\.resources==' "$HERE/requirements.txt" | cut -d= -f3)"
# The copy of requirements.txt written after a good install (so a changed pin reinstalls).
STAMP="$VENV/requirements.installed"
if [ -x "$VENV/bin/python" ] && cmp -s "$STAMP" "$HERE/requirements.txt"; then
  echo "fhir-validator: fhir.resources $WANT (FHIR R4 4.0.1) already in $VENV"
  exit 0
fi
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$HERE/requirements.txt"
"$VENV/bin/python" -c 'import fhir.resources as f; assert f.__fhir_version__ == "4.0.1", f.__fhir_version__'
cp "$HERE/requirements.txt" "$STAMP"
echo "fhir-validator: installed fhir.resources $WANT (FHIR R4 4.0.1) in $VENV"
