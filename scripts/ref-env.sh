#!/usr/bin/env bash
# Creates .venv with the Python packages the reference checks need (fixture writers,
# scikit-learn/scipy expected values, the nibabel+numpy benchmark). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements.txt
