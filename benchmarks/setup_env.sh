#!/usr/bin/env bash
# Build the benchmark environment: atacflow plus the peers it is measured against
# (scvi-tools POISSONVI and SnapATAC2), kept apart from the workflow's own environment.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${BENCH_VENV:-.venv-bench}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q torch==2.13.0
"$venv/bin/pip" install -q -r requirements.txt 'scvi-tools==1.4.2' 'snapatac2==2.9.0'
"$venv/bin/pip" install -q --no-deps -e .
echo "benchmark environment ready: $venv"
