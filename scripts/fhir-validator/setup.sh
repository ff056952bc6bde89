#!/usr/bin/env bash
# Creates the Python venv of the FHIR validator (target/fhir-validator-venv), once.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${CARGO_TARGET_DIR:-$ROOT/target}/fhir-validator-venv"
WANT="$(grep -E '^fhir\.resources==' "$HERE/requirements.txt" | cut -d= -f3)"
if [ -x "$VENV/bin/python" ] && [ "$("$VENV/bin/python" -c 'import fhir.resources as f; print(f.__version__)' 2>/dev/null)" = "$WANT" ]; then
  exit 0
fi
echo "fhir-validator: creating $VENV with fhir.resources $WANT (FHIR R4 4.0.1)"
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"
"$VENV/bin/python" -c 'import fhir.resources as f; assert f.__fhir_version__ == "4.0.1", f.__fhir_version__'
