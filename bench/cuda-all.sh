#!/usr/bin/env bash
# bench/cuda-all.sh — every issue-18 measurement in one device call (device time is scarce), after
# `source .gpu/setup.sh`, carrying .gpu and bench/cuda/bin (built here by bench/cuda/moe-kernels-check.sh):
#   1. the MoE kernels' own check and timings (bench/cuda/bin/moe-kernels-check, where a branch built it)
#   2. every op's forward/backward, 20 steps and micro-batches against the cpu backend (cuda-check)
#   3. the HF micro checkpoints' logits on cuda against HF's float64 logits (gpu-logits.sh)
#   4. r1-tiny's first stage, 50 steps, cuda fp32 and bf16 against wasm (cuda-r1tiny.sh)
#   5. moe-500m training, ours against HF transformers fp32 / bf16 / amp in the same run (cuda-train.sh)
#   6. the cuda decoder against the cpu decoder: prefill, cached steps, graph replays, greedy ids (cuda-decode-check)
#   7. moe-500m decoding, ours against HF generate fp32 / bf16 (cuda-decode.sh)
#   8. one GRPO policy update on cuda against the tfjs update on cpu: objective, gradients, AdamW (cuda-grpo-check)
# Each part's output goes to $OUT/<part>.txt; a part that fails does not stop the others.
set -uo pipefail
cd "$(dirname "$0")/.."
dest=${OUT:-/tmp/moe-bench}
mkdir -p "$dest"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$dest/device.txt"
part() { # NAME SECONDS CMD…
  local name=$1 limit=$2; shift 2
  local start=$SECONDS
  timeout "$limit" "$@" > "$dest/$name.txt" 2>&1
  echo "== $name: exit $? in $((SECONDS - start)) s"
}
# the order is by importance: a call that runs out of time keeps what ran first
[[ -z ${SKIP_KERNELS:-} && -x bench/cuda/bin/moe-kernels-check ]] && part kernels 120 ./bench/cuda/bin/moe-kernels-check
[[ -z ${SKIP_CHECK:-} ]] && part check 200 node dist/bench/cuda-check.js "$dest/cuda-check.json"
[[ -z ${SKIP_EXPORT:-} ]] && OUT=/tmp/hf-export part hf-export 120 bash bench/hf-export-check.sh
[[ -z ${SKIP_LOGITS:-} ]] && BACKENDS=cuda part logits 120 bash bench/gpu-logits.sh
[[ -z ${SKIP_R1:-} ]] && part r1tiny 400 bash bench/cuda-r1tiny.sh examples/r1-tiny.moe 50
[[ -z ${SKIP_TRAIN:-} ]] && part train 500 bash bench/cuda-train.sh bench/specs/moe-500m.moe
[[ -z ${SKIP_DECODE_CHECK:-} ]] && part decode-check 150 node dist/bench/cuda-decode-check.js "$dest/cuda-decode-check.json"
[[ -z ${SKIP_GRPO_CHECK:-} ]] && part grpo-check 150 node dist/bench/cuda-grpo-check.js "$dest/cuda-grpo-check.json"
[[ -z ${SKIP_DECODE:-} ]] && part decode 400 bash bench/cuda-decode.sh bench/specs/moe-500m.moe 64
for f in kernels check hf-export logits r1tiny train decode-check grpo-check decode; do
  [[ -f "$dest/$f.txt" ]] && { echo "---- $f"; grep -E "PASS|FAIL|max |relative|tokens_per_s|mfu|_vs_hf|peak|exit|Error|error" "$dest/$f.txt" | head -40; }
done
