#!/usr/bin/env bash
# On the GPU machine (after `source .gpu/setup.sh`), or here on the CUDA emulator
# (MOE_CUDA_LIBRARY_PATH=$(node --import tsx test/runtime/cuda/emulator/build.ts)): import each HF
# micro checkpoint (FAMILIES, default every test/reference/hf/*.logits.json), run `moe logits` on
# every backend in BACKENDS for each reference sequence and compare with HF's float64 logits, then
# `moe generate` greedy from the reference prompt and compare the ids with HF's greedy ids.
# Issue 18 asks for fp32 within 1e-4 of HF and the same greedy ids; one PASS/FAIL line each.
set -uo pipefail
out=${OUT:-/tmp/moe-gpu}
mkdir -p "$out"
families=${FAMILIES:-$(cd test/reference/hf && ls *.logits.json | sed 's/\.logits\.json$//' | tr '\n' ' ')}
for name in $families; do
  [[ -f test/reference/hf/$name.logits.json ]] || { echo "$name: no test/reference/hf/$name.logits.json"; continue; }
  rm -rf "/tmp/ck-$name"
  node bin/moe.js import hf "test/reference/hf/$name" -o "/tmp/ck-$name" > /dev/null 2>&1 || { echo "$name: import failed"; continue; }
  ref=test/reference/hf/$name.logits.json
  for backend in ${BACKENDS:-cuda webgpu wasm cpu}; do
    count=$(python3 -c "import json;print(len(json.load(open('$ref'))['ids']))")
    for ((s = 0; s < count; s++)); do
      ids=$(python3 -c "import json;print(','.join(map(str,json.load(open('$ref'))['ids'][$s])))")
      start=$(date +%s.%N)
      node bin/moe.js logits "/tmp/ck-$name" --ids "$ids" --json --backend "$backend" > "$out/$name.$backend.$s.json" 2> "$out/$name.$backend.$s.err"
      status=$?
      end=$(date +%s.%N)
      python3 - "$name" "$backend" "$status" "$start" "$end" "$out" "$s" <<'PY'
import json, sys
name, backend, status, start, end, out, s = sys.argv[1:]
if status != "0":
    print(f"FAIL {name} {backend} sequence {s}: exit {status}: {open(f'{out}/{name}.{backend}.{s}.err').read().strip()[-300:]}")
    sys.exit(0)
ours = json.load(open(f"{out}/{name}.{backend}.{s}.json"))["logits"]
ref = json.load(open(f"test/reference/hf/{name}.logits.json"))["logits"][int(s)]
diff = max(abs(a - b) for r, q in zip(ours, ref) for a, b in zip(r, q))
scale = max(abs(b) for q in ref for b in q)
ok = len(ours) == len(ref) and diff / scale <= 1e-4
print(f"{'PASS' if ok else 'FAIL'} {name} {backend} sequence {s}: logits max |diff| {diff:.3e}, relative {diff/scale:.3e}, wall {float(end)-float(start):.1f}s")
PY
    done
    read -r prompt steps < <(python3 -c "import json;r=json.load(open('$ref'));print(','.join(map(str,r['greedy_prompt'])), len(r['greedy_ids'])-len(r['greedy_prompt']))")
    node bin/moe.js generate "/tmp/ck-$name" --ids "$prompt" --max-new-tokens "$steps" --json --backend "$backend" > "$out/$name.$backend.greedy.json" 2> "$out/$name.$backend.greedy.err"
    python3 - "$name" "$backend" "$?" "$out" <<'PY'
import json, sys
name, backend, status, out = sys.argv[1:]
if status != "0":
    print(f"FAIL {name} {backend} greedy: exit {status}: {open(f'{out}/{name}.{backend}.greedy.err').read().strip()[-300:]}")
    sys.exit(0)
r = json.load(open(f"test/reference/hf/{name}.logits.json"))
ours = json.load(open(f"{out}/{name}.{backend}.greedy.json"))["ids"]
want = r["greedy_ids"][len(r["greedy_prompt"]):]
print(f"{'PASS' if ours == want else 'FAIL'} {name} {backend} greedy ids {'equal' if ours == want else f'{ours} where HF gives {want}'} ({len(want)} tokens)")
PY
  done
done
