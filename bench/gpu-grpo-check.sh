#!/usr/bin/env bash
# On the GPU machine: GRPO (8 steps from one SFT checkpoint) and greedy generation from one final
# checkpoint on wasm and webgpu, compared step by step; HF greedy through the KV cache on webgpu.
# Expects .gpu/check.moe (examples/r1-tiny.moe with `grpo reason { from = "ck/cold", steps = 8 }`),
# .gpu/ck/cold and .gpu/ck/final (checkpoints of a `moe run examples/r1-tiny.moe`), and $OUT.
set -uo pipefail
out=$OUT
for backend in wasm webgpu; do
  start=$(date +%s)
  timeout 200 node bin/moe.js run .gpu/check.moe reason --backend $backend --out $out/$backend > $out/$backend.log 2>&1
  echo "grpo on $backend: exit $? in $(( $(date +%s) - start ))s"
  for p in "What is 12+30?" "What is 7*8?"; do
    timeout 60 node bin/moe.js generate .gpu/ck/final --prompt "$p" --json --backend $backend >> $out/greedy.$backend.jsonl 2>/dev/null
  done
done
python3 - $out <<'PY'
import json, sys
out = sys.argv[1]
m = {b: [json.loads(l) for l in open(f"{out}/{b}/reason/metrics.jsonl")] for b in ("wasm", "webgpu")}
for a, b in zip(m["wasm"], m["webgpu"]):
    print(f"step {a['step']}: reward {a['reward']:.4f} / {b['reward']:.4f}  loss {a['loss']:.3e} / {b['loss']:.3e}  kl {a['kl']:.3e} / {b['kl']:.3e}  entropy {a['entropy']:.5f} / {b['entropy']:.5f}  same best completion {a['best_completion'] == b['best_completion']}")
g = {b: [json.loads(l) for l in open(f"{out}/greedy.{b}.jsonl")] for b in ("wasm", "webgpu")}
for x, y in zip(g["wasm"], g["webgpu"]):
    print(f"greedy ids identical: {x['ids'] == y['ids']} ({len(x['ids'])} tokens) {y['text']!r}")
PY
for name in deepseek-v3-micro mixtral-micro; do
  rm -rf /tmp/ck-$name && node bin/moe.js import hf test/reference/hf/$name -o /tmp/ck-$name > /dev/null
  python3 - $name $out <<'PY'
import json, subprocess, sys
name, out = sys.argv[1:]
ref = json.load(open(f"test/reference/hf/{name}.logits.json"))
new = len(ref["greedy_ids"]) - len(ref["greedy_prompt"])
r = subprocess.run(["node", "bin/moe.js", "generate", f"/tmp/ck-{name}", "--ids", ",".join(map(str, ref["greedy_prompt"])), "--max-new-tokens", str(new), "--json", "--backend", "webgpu"], capture_output=True, text=True)
ours = ref["greedy_prompt"] + json.loads(r.stdout)["ids"]
print(f"{name}: webgpu KV-cached greedy equals HF generate: {ours == ref['greedy_ids']}")
PY
done
