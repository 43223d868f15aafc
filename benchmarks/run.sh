#!/usr/bin/env bash
# One command: build the benchmark environment (atacflow, scvi-tools, SnapATAC2; skipped pip work is quick when it
# exists) and run the whole-pipeline comparison on the Granja set; the table is printed and saved as
# benchmarks/out/pipeline.tsv. Arguments go to bench_pipeline.py (e.g. --max-epochs 5 for a quick check).
set -euo pipefail
cd "$(dirname "$0")/.."
benchmarks/setup_env.sh
"${BENCH_VENV:-.venv-bench}/bin/python" benchmarks/bench_pipeline.py "$@"
