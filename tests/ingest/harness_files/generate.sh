#!/usr/bin/env bash
# Regenerates the harness files in lm-eval/ and lighteval/ with the real harnesses (see README.md).
# Usage: bash tests/ingest/harness_files/generate.sh [OUT]   (run from the repository root, after `make test`'s install)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$(mktemp -d)}"
work="$(mktemp -d)"
python3 -m venv "$work/venv"
echo "$(pwd)/.venv/lib/python3.11/site-packages" > "$work/venv/lib/python3.11/site-packages/tether-venv.pth"
"$work/venv/bin/pip" install --quiet "lm-eval==0.4.13" "lighteval==0.13.0" "xxhash<4"
mkdir -p "$work/le_data" "$work/le_greedy" "$work/tasks"
cp "$here/source/data/sums.jsonl" "$here/source/data/sums_greedy.jsonl" "$work/"
cp "$here/source/data/sums.jsonl" "$work/le_data/test.jsonl"
cp "$here/source/data/sums_greedy.jsonl" "$work/le_greedy/test.jsonl"
for f in "$here"/source/lm_eval_tasks/*.yaml; do sed "s#@DATA@#$work#" "$f" > "$work/tasks/$(basename "$f")"; done
sed "s#@DATA@#$work#" "$here/source/lighteval_sums.py" > "$work/lighteval_sums.py"
# lighteval samples only when the model's generation config says do_sample (transformers 5)
cp -r src/tether/lab/pair/base "$work/model"
python3 -c "import json,sys; p=sys.argv[1]; c=json.load(open(p)); c['do_sample']=True; json.dump(c, open(p,'w'))" "$work/model/generation_config.json"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
"$work/venv/bin/python" -m lm_eval --model hf --model_args "pretrained=$(pwd)/src/tether/lab/pair/base,dtype=float32" \
  --tasks lab_sums_k4,lab_sums_greedy --include_path "$work/tasks" --log_samples --output_path "$out/lm-eval" \
  --device cpu --batch_size 8 --seed 0
"$work/venv/bin/python" -m lm_eval --model hf --model_args "pretrained=$(pwd)/src/tether/lab/pair/base,dtype=float32" \
  --tasks lab_sums_choice --include_path "$work/tasks" --log_samples --output_path "$out/lm-eval" \
  --device cpu --batch_size 8 --seed 0 --limit 2
"$work/venv/bin/python" "$here/source/run_lighteval.py" \
  "model_name=$work/model,dtype=float32,generation_parameters={temperature:0.5,seed:0}" \
  "lab_sums|0,lab_sums_exact|0" "$work/lighteval_sums.py" "$out/lighteval"
echo "written under $out"
