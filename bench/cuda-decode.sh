#!/usr/bin/env bash
# bench/cuda-decode.sh [SPEC] [NEW] — on the GPU machine (after `source .gpu/setup.sh`, dist/ built):
# our cuda decoder (`bench decode SPEC NEW cuda`: prefill of a 64-token prompt at batch 32, cached
# decode at batch 1 and 32, fp32) against HF transformers' generate (bench/peer/hf_decode.py, same
# config, prompt and new tokens, fp32 and bf16) in one run. Issue 18's targets: batch-1 decode ≥ 5×
# HF, batch-32 ≥ 2×, prefill ≥ 1.5×. Prints the ratios and writes $OUT/cuda-decode.json.
set -uo pipefail
cd "$(dirname "$0")/.."
spec=${1:-bench/specs/moe-500m.moe}
new=${2:-64}
dest=${OUT:-/tmp/moe-bench}
work=/tmp/cuda-decode
python=${PYTHON:-/opt/torch/.venv/bin/python}
rm -rf "$work"
mkdir -p "$work" "$dest"
node bin/moe.js compile "$spec" --emit hf-config -o "$work/c" > "$work/compile.log" 2>&1 || { cat "$work/compile.log"; exit 1; }
config=$(ls "$work"/c/*.config.json | head -1)
timeout 300 node dist/bench/run.js decode "$spec" "$new" cuda > "$work/ours.out" 2> "$work/ours.err"
echo "ours: exit $? — $(grep -E '^  cuda' "$work/ours.out")"
for dtype in ${HF_DTYPES:-fp32 bf16}; do
  timeout 240 "$python" bench/peer/hf_decode.py "$config" --new "$new" --batches 1,32 --dtype "$dtype" --out "$work/hf-$dtype.json" > /dev/null 2> "$work/hf-$dtype.err"
  echo "hf $dtype: exit $?"
done
"$python" - "$work" "$dest/cuda-decode.json" "$spec" "$new" <<'PY'
import json, os, re, sys
work, out, spec, new = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
res = {"spec": spec, "new_tokens": new, "prompt": 64}
text = open(f"{work}/ours.out").read()
num = r"([0-9.]+)"
m = re.search(rf"cuda\s+prefill\s+{num} tok/s \(batch 32\)\s+decode batch 1\s+{num} tok/s\s+batch 32\s+{num} tok/s", text)
res["ours_cuda_fp32"] = {"prefill_tokens_per_s_batch32": float(m[1]), "decode_tokens_per_s": {"1": float(m[2]), "32": float(m[3])}} if m else {"error": (text + open(f"{work}/ours.err").read())[-2000:]}
for dtype in ("fp32", "bf16"):
    path = f"{work}/hf-{dtype}.json"
    if not os.path.exists(path):
        err = f"{work}/hf-{dtype}.err"
        res[f"hf_{dtype}"] = {"error": open(err).read()[-1500:] if os.path.exists(err) else "not run"}
        continue
    hf = json.load(open(path))
    res[f"hf_{dtype}"] = hf
    ours = res["ours_cuda_fp32"]
    if "decode_tokens_per_s" not in ours:
        continue
    runs = hf.get("runs", {})
    for b in ("1", "32"):
        if runs.get(b, {}).get("decode_tokens_per_s"):
            res[f"decode_batch{b}_vs_hf_{dtype}"] = ours["decode_tokens_per_s"][b] / runs[b]["decode_tokens_per_s"]
    if runs.get("32", {}).get("prefill_tokens_per_s"):
        res[f"prefill_batch32_vs_hf_{dtype}"] = ours["prefill_tokens_per_s_batch32"] / runs["32"]["prefill_tokens_per_s"]
json.dump(res, open(out, "w"), indent=1)
print(json.dumps({k: v for k, v in res.items() if not k.startswith("hf_")}, indent=1))
PY
