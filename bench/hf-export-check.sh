#!/usr/bin/env bash
# Issue 20's export round trip, on the GPU machine after `source .gpu/setup.sh` (needs dist/:
# `npm run build`): every reference checkpoint of test/reference/hf is imported with
# `moe import hf`, exported with `moe export hf`, and the export is loaded by transformers
# (bench/peer/check_hf_export.py): logits within 1e-4 relative of HF's and identical greedy ids.
# Prints one line per family and a summary; exits 1 when any family fails.
set -uo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-/opt/torch/.venv/bin/python}
work=${OUT:-/tmp/moe-hf-export}
rm -rf "$work"
mkdir -p "$work"
# The eight families (qwen2-moe-micro: a shared expert 24 wide beside experts 16, `shared_hidden`;
# qwen2-moe-sliding-micro: layer 0 sliding with window 5, layer 1 full, by `layer_types`).
families=${FAMILIES:-"deepseek-v2-micro deepseek-v3-micro mixtral-micro llama-micro qwen2-moe-micro qwen3-moe-micro olmoe-micro qwen2-moe-sliding-micro"}
pairs=()
failed=0
for name in $families; do
  if ! node bin/moe.js import hf "test/reference/hf/$name" -o "$work/$name-ck" > "$work/$name.import.log" 2>&1; then
    echo "FAIL $name: moe import hf refused it: $(tail -n 3 "$work/$name.import.log" | tr '\n' ' ')"
    failed=$((failed + 1))
    continue
  fi
  if ! node bin/moe.js export hf "$work/$name-ck" -o "$work/$name-hf" > "$work/$name.export.log" 2>&1; then
    echo "FAIL $name: moe export hf refused it: $(tail -n 3 "$work/$name.export.log" | tr '\n' ' ')"
    failed=$((failed + 1))
    continue
  fi
  echo "exported $name: $(cat "$work/$name.export.log")"
  pairs+=("$work/$name-hf" "test/reference/hf/$name.logits.json")
done
status=0
if [ ${#pairs[@]} -gt 0 ]; then
  "$python" bench/peer/check_hf_export.py "${pairs[@]}" || status=1
fi
if [ "$failed" -gt 0 ] || [ "$status" -ne 0 ]; then
  echo "hf-export-check: FAILED ($failed families refused before transformers ran)"
  exit 1
fi
echo "hf-export-check: every family passed"
