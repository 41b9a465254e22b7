#!/usr/bin/env bash
# Write the verl validation dumps again into OUT (README.md beside this file): verl 0.9.1 from PyPI without its
# dependencies into a scratch folder, the few modules its trainer imports beside it, run with tether's .venv
# (torch, ray, transformers). Run from the repository root: bash tests/ingest/verl_files/generate.sh OUT
set -euo pipefail
out=${1:?usage: generate.sh OUT}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
python3 -m venv "$scratch/venv"
"$scratch/venv/bin/pip" install -q --no-deps --target "$scratch/site" verl==0.9.1 tensordict==0.15.3 pyvers==0.2.3 omegaconf==2.4.0 \
  torchdata==0.11.0 codetiming==1.4.0 orjson==3.13.0 peft==0.21.2
PYTHONPATH="$scratch/site" .venv/bin/python tests/ingest/verl_files/generate.py "$out"
