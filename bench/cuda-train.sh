#!/usr/bin/env bash
# bench/cuda-train.sh [SPEC] — on the GPU machine: `moe train --backend cuda` against HF transformers
# (bench/peer/hf_train.py, fp32 and bf16) on the spec's first pretrain stage's shapes, in one run. The
# GPU memory of each process is sampled with nvidia-smi every 100 ms (HF also reports torch's peak).
# Prints the medians of tokens/s after the first TRAIN_SKIP steps, the ratios, and writes
# $OUT/cuda-train.json. Prepare as for bench/gpu.sh (gpu-pack with dist), then:
#   source .gpu/setup.sh && bench/cuda-train.sh bench/specs/moe-500m.moe
set -uo pipefail
cd "$(dirname "$0")/.."
spec=${1:-bench/specs/moe-500m.moe}
steps=${STEPS:-8}
skip=${TRAIN_SKIP:-2}
dest=${OUT:-/tmp/moe-bench}
work=/tmp/cuda-train
rm -rf "$work"
mkdir -p "$work" "$dest"
node bin/moe.js compile "$spec" --emit graph,hf-config -o "$work/c" > "$work/compile.log" 2>&1 || { cat "$work/compile.log"; exit 1; }
config=$(ls "$work"/c/*.config.json | head -1)
read -r batch seq < <(python3 -c "
import json,sys; d=json.load(open(sys.argv[1])); s=[s for s in d['plan']['stages'] if s['kind']=='pretrain'][0]['hyper']
print(s['batch_sequences'], s['seq_len'])" "$(ls "$work"/c/*.graph.json | head -1)")
echo "spec $spec: batch $batch × seq $seq, $steps steps"
# training FLOPs per token (forward + backward, the checker's count at the stage's sequence length) for MFU
node bin/moe.js check "$spec" --stats --json > "$work/stats.json" 2>/dev/null
# dense bf16 peak of the card (H100 SXM and H200: 989 TFLOP/s; MFU is against it for every precision)
peak=${PEAK_TFLOPS:-989}

sampled() { # FILE CMD…: runs CMD while sampling the GPU's used memory (MiB) into FILE
  local file=$1; shift
  (while true; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits >> "$file" 2>/dev/null; sleep 0.1; done) &
  local sampler=$!
  "$@"; local rc=$?
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
  return $rc
}

# SKIP_FP32=1 leaves out our fp32 run (to save device time)
if [[ -z ${SKIP_FP32:-} ]]; then
  sampled "$work/ours.mem" timeout 300 node bin/moe.js train "$spec" --backend cuda --steps "$steps" -o "$work/run" > "$work/ours.log" 2>&1
  echo "ours fp32: exit $? — $(tail -1 "$work/ours.log")"
fi
# the same stage in precision = bf16 (a copy of the spec with the setting added to its pretrain stage)
sed -E 's/^(pretrain [A-Za-z0-9_]+ \{)$/\1\n  precision = bf16/' "$spec" > "$work/bf16.moe"
sampled "$work/ours-bf16.mem" timeout 300 node bin/moe.js train "$work/bf16.moe" --backend cuda --steps "$steps" -o "$work/run-bf16" > "$work/ours-bf16.log" 2>&1
echo "ours bf16: exit $? — $(tail -1 "$work/ours-bf16.log")"
# bf16 with `recompute = full` (each layer's forward re-run in its backward: the memory it saves, the time it costs)
sed -E 's/^(pretrain [A-Za-z0-9_]+ \{)$/\1\n  parallel { recompute = full }/' "$work/bf16.moe" > "$work/bf16-recompute.moe"
sampled "$work/ours-rc.mem" timeout 300 node bin/moe.js train "$work/bf16-recompute.moe" --backend cuda --steps "$steps" -o "$work/run-rc" > "$work/ours-rc.log" 2>&1
echo "ours bf16 recompute = full: exit $? — $(tail -1 "$work/ours-rc.log")"
# where a step's time goes: every op synchronized (slower), 3 steps
MOE_CUDA_PROFILE=1 timeout 200 node bin/moe.js train "$work/bf16.moe" --backend cuda --steps 3 -o "$work/prof" > /dev/null 2> "$work/profile.txt"
grep -A40 '^cuda profile' "$work/profile.txt" | head -40
cp "$work/profile.txt" "$dest/cuda-profile.txt" 2>/dev/null
# SKIP_HF=1 leaves out the HF peer (a quick iteration; a reported ratio needs it in the same run)
if [[ -z ${SKIP_HF:-} ]]; then
  sampled "$work/hf.mem" timeout 240 python3 bench/peer/hf_train.py "$config" --batch "$batch" --seq "$seq" --steps ${HF_STEPS:-10} --warmup 3 --dtype ${HF_DTYPES:-fp32,bf16,amp} --out "$work/hf.json" > "$work/hf.out" 2> "$work/hf.err"
  echo "hf: exit $?"
else
  echo "hf: skipped (SKIP_HF)"
fi
python3 - "$work" "$skip" "$dest/cuda-train.json" "$spec" "$peak" <<'PY'
import json, statistics, sys, os
work, skip, out, spec, peak = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5])
res = {"spec": spec}
try:
    flops = json.load(open(f"{work}/stats.json"))["files"][0]["stats"]["models"][0]["flops"]
    res["training_flops_per_token"], res["flops_seq_len"], res["peak_tflops"] = flops["training"], flops["seqLen"], peak
except Exception as e:  # noqa: BLE001 - MFU is then left out
    flops = None
    res["mfu_error"] = str(e)
def mfu(tps):
    return round(tps * flops["training"] / (peak * 1e12), 4) if flops and tps else None
recs = [json.loads(l) for l in open(f"{work}/run/metrics.jsonl")] if os.path.exists(f"{work}/run/metrics.jsonl") else []
steps = [r for r in recs if "tokens_per_s" in r]
def ours(run, mem):
    recs = [json.loads(l) for l in open(f"{work}/{run}/metrics.jsonl")] if os.path.exists(f"{work}/{run}/metrics.jsonl") else []
    steps = [r for r in recs if "tokens_per_s" in r]
    return {"tokens_per_s": statistics.median([r["tokens_per_s"] for r in steps if r["step"] > skip]) if len(steps) > skip else None,
            "by_step": [round(r["tokens_per_s"]) for r in steps], "losses": [round(r["loss"], 4) for r in steps],
            "peak_gpu_mib": max(map(int, open(f"{work}/{mem}").read().split())) if os.path.exists(f"{work}/{mem}") else None}
res["ours_bf16"] = ours("run-bf16", "ours-bf16.mem")
res["ours_bf16_recompute"] = ours("run-rc", "ours-rc.mem")
res["ours"] = {"tokens_per_s": statistics.median([r["tokens_per_s"] for r in steps if r["step"] > skip]) if len(steps) > skip else None,
               "by_step": [round(r["tokens_per_s"]) for r in steps], "losses": [round(r["loss"], 4) for r in steps],
               "peak_gpu_mib": max(map(int, open(f"{work}/ours.mem").read().split())) if os.path.exists(f"{work}/ours.mem") else None}
try:
    res["hf"] = json.load(open(f"{work}/hf.json"))
except Exception as e:  # noqa: BLE001 - skipped (SKIP_HF) or failed: say which
    err = f"{work}/hf.err"
    res["hf"] = {"error": str(e), "stderr": open(err).read()[-2000:]} if os.path.exists(err) else {"skipped": True}
res["hf_peak_gpu_mib_sampled"] = max(map(int, open(f"{work}/hf.mem").read().split())) if os.path.exists(f"{work}/hf.mem") else None
for mine in ("ours", "ours_bf16", "ours_bf16_recompute"):
    res[mine]["mfu"] = mfu(res[mine]["tokens_per_s"])
for dt, hf in (res["hf"].items() if isinstance(res["hf"], dict) else []):
    if isinstance(hf, dict) and hf.get("tokens_per_s"):
        hf["mfu"] = mfu(hf["tokens_per_s"])
for mine in ("ours", "ours_bf16", "ours_bf16_recompute"):
    mine_tps = res[mine]["tokens_per_s"]
    for dt in ("fp32", "bf16", "amp"):
        hf = res["hf"].get(dt, {}) if isinstance(res["hf"], dict) else {}
        if mine_tps and isinstance(hf, dict) and hf.get("tokens_per_s"):
            res[f"{mine}_vs_hf_{dt}"] = mine_tps / hf["tokens_per_s"]
json.dump(res, open(out, "w"), indent=1)
print(json.dumps({k: v for k, v in res.items() if k != "hf"}, indent=1))
print("hf:", json.dumps(res["hf"])[:1500])
PY
