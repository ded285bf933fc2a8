#!/usr/bin/env bash
# On the GPU machine (after `source .gpu/setup.sh`): import the HF reference checkpoints, run
# `moe logits` on every backend available there, and compare with HF's float64 logits.
set -uo pipefail
out=${OUT:-/tmp/moe-gpu}
mkdir -p "$out"
for name in deepseek-v3-micro mixtral-micro; do
  rm -rf "/tmp/ck-$name"
  node bin/moe.js import hf "test/reference/hf/$name" -o "/tmp/ck-$name" >/dev/null
  ids=$(python3 -c "import json;print(','.join(map(str,json.load(open('test/reference/hf/$name.logits.json'))['ids'][0])))")
  for backend in ${BACKENDS:-cuda webgpu wasm cpu}; do
    start=$(date +%s.%N)
    node bin/moe.js logits "/tmp/ck-$name" --ids "$ids" --json --backend "$backend" > "$out/$name.$backend.json" 2> "$out/$name.$backend.err"
    status=$?
    end=$(date +%s.%N)
    python3 - "$name" "$backend" "$status" "$start" "$end" "$out" <<'PY'
import json, sys
name, backend, status, start, end, out = sys.argv[1:]
if status != "0":
    print(f"{name} {backend}: exit {status}: {open(f'{out}/{name}.{backend}.err').read().strip()[-300:]}")
    sys.exit(0)
ours = json.load(open(f"{out}/{name}.{backend}.json"))["logits"]
ref = json.load(open(f"test/reference/hf/{name}.logits.json"))["logits"][0]
diff = max(abs(a - b) for r, s in zip(ours, ref) for a, b in zip(r, s))
scale = max(abs(b) for s in ref for b in s)
print(f"{name} {backend}: max |diff| {diff:.3e}, relative {diff/scale:.3e}, wall {float(end)-float(start):.1f}s")
PY
  done
done
