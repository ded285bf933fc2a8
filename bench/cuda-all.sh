#!/usr/bin/env bash
# bench/cuda-all.sh — every issue-18 measurement in one device call (device time is scarce), after
# `source .gpu/setup.sh`, carrying .gpu and bench/cuda/bin (built here by bench/cuda/moe-kernels-check.sh):
#   kernels       the MoE kernels' own check and timings (bench/cuda/bin/moe-kernels-check)
#   check         every op's forward/backward, 20 steps, micro-batches, recompute against the cpu backend
#   flash-check   the flash attention kernels against the cpu backend, every instantiation (cuda-flash-check.ts)
#   decode-check  the cuda decoder against the cpu decoder: prefill, cached steps, graph replays, greedy ids
#   grpo-check    one GRPO policy update on cuda against the tfjs update on cpu: objective, gradients, AdamW
#   hf-export     the HF micro checkpoints imported, exported and loaded by transformers (hf-export-check.sh)
#   logits        the HF micro checkpoints' logits on cuda against HF's float64 logits (gpu-logits.sh)
#   r1tiny        r1-tiny's first stage, 50 steps, cuda fp32 and bf16 against wasm (cuda-r1tiny.sh)
#   train         moe-500m training, ours against HF transformers fp32 / bf16 / amp in the same run (cuda-train.sh)
#   decode        moe-500m decoding, ours against HF generate fp32 / bf16 (cuda-decode.sh)
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
# PARTS="check train …" runs those parts only; else every part but those SKIP_<PART>=1 leaves out
want() { # PART
  if [[ -n ${PARTS:-} ]]; then [[ " $PARTS " == *" $1 "* ]]; return; fi
  local skip="SKIP_$(echo "$1" | tr 'a-z-' 'A-Z_')"
  [[ -z ${!skip:-} ]]
}
want kernels && [[ -x bench/cuda/bin/moe-kernels-check ]] && part kernels 120 ./bench/cuda/bin/moe-kernels-check
want check && part check 200 node dist/bench/cuda-check.js "$dest/cuda-check.json"
want flash-check && part flash-check 120 node dist/bench/cuda-flash-check.js "$dest/cuda-flash-check.json"
want decode-check && part decode-check 150 node dist/bench/cuda-decode-check.js "$dest/cuda-decode-check.json"
want grpo-check && part grpo-check 150 node dist/bench/cuda-grpo-check.js "$dest/cuda-grpo-check.json"
want hf-export && OUT=/tmp/hf-export part hf-export 120 bash bench/hf-export-check.sh
want logits && BACKENDS=cuda part logits 120 bash bench/gpu-logits.sh
want r1tiny && part r1tiny 400 bash bench/cuda-r1tiny.sh examples/r1-tiny.moe 50
want train && part train 500 bash bench/cuda-train.sh bench/specs/moe-500m.moe
want decode && part decode 400 bash bench/cuda-decode.sh bench/specs/moe-500m.moe 64
for f in kernels check flash-check decode-check grpo-check hf-export logits r1tiny train decode; do
  [[ -f "$dest/$f.txt" ]] && { echo "---- $f"; grep -E "PASS|FAIL|max |relative|tokens_per_s|mfu|_vs_hf|peak|exit|Error|error" "$dest/$f.txt" | head -40; }
done
