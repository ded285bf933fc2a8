#!/usr/bin/env bash
# bench/device-round.sh ROUND — the GPU machine's work for issues 18, 20 and 21, in rounds that each fit
# one device call (600 s), most important first. Prepare here (no GPU needed) with
#   MEGATRON_GIT=<a Megatron-LM git dir, for round 3> bash bench/device-prep.sh
# (PTX, the MoE kernel check program, dist/, the .gpu pack, .megatron/);
# then call the device with `bash bench/device-round.sh N`, carrying .gpu and bench/cuda/bin (round 3:
# .megatron). Calls back to back keep the machine warm; each round's files come back under $OUT.
#   1  the cuda gate: the MoE kernel check, every op against the cpu backend (cuda-check, incl.
#      recompute), the flash attention kernels (cuda-flash-check), the cuda decoder against the cpu decoder, a GRPO update on cuda against the cpu one
#      (on main, before branch cuda-speed lands: cuda-check alone)
#   2  HF (issue 20): the qwen2-moe-sliding-micro fixture, left-padded batch references for every micro
#      checkpoint, the export round trip of the eight micro checkpoints, their logits on cuda
#   3  Megatron-Core (issue 21): the two smoke specs on one GPU (logs + checks), its option list,
#      validate_args of the example scripts at their declared world sizes with real torch
#   4  r1-tiny 50 steps cuda fp32/bf16 against wasm
#   5  moe-500m training against HF transformers fp32/bf16/amp (incl. recompute = full), MFU
#   6  moe-500m decoding against HF generate fp32/bf16
set -uo pipefail
cd "$(dirname "$0")/.."
round=${1:?usage: bench/device-round.sh 1|2|3|4|5|6}
# the device tool brings back only a few files a call (8 on 2026-12-08: round 2's fixtures were
# lost once), so the round writes into a folder of its own and leaves one archive in $OUT
final=${OUT:-/tmp/moe-round}
export OUT=/tmp/moe-round-$round
mkdir -p "$OUT" "$final"
t0=$SECONDS
# the unpacked node survives between calls on a warm machine
if [[ -x /tmp/gpu-node/node ]]; then export PATH=/tmp/gpu-node:$PATH; else source .gpu/setup.sh > "$OUT/setup.txt" 2>&1; fi
PY=/opt/torch/.venv/bin/python
FAMILIES="deepseek-v2-micro deepseek-v3-micro mixtral-micro llama-micro qwen2-moe-micro qwen3-moe-micro olmoe-micro qwen2-moe-sliding-micro"
case $round in
  1) PARTS="kernels check flash-check decode-check grpo-check" bash bench/cuda-all.sh ;;
  2)
    mkdir -p "$OUT/hf"
    timeout 120 $PY bench/peer/make_hf_families.py "$OUT/hf" qwen2-moe-sliding-micro > "$OUT/sliding.txt" 2>&1; echo "sliding fixture: exit $?"
    cp -r "$OUT"/hf/qwen2-moe-sliding-micro* test/reference/hf/ 2>/dev/null
    timeout 120 $PY bench/peer/make_hf_batch_reference.py "$OUT/hf" > "$OUT/batch.txt" 2>&1; echo "batch references: exit $?"
    cp "$OUT"/hf/*.batch.json test/reference/hf/ 2>/dev/null
    (cd "$OUT/hf" && tar -cf ../hf-fixtures.tar . ) && rm -rf "$OUT/hf"
    PARTS="hf-export logits" FAMILIES="$FAMILIES" bash bench/cuda-all.sh ;;
  3)
    export PYTHON=$PY PATH=/opt/torch/.venv/bin:$PATH
    for spec in gqa-softmax mla-sigmoid-mtp; do
      MASTER_PORT=$((29517 + ${#spec})) timeout 220 bash bench/megatron/run.sh .megatron "bench/megatron/$spec.megatron.sh" "/tmp/meg-$spec" 30 > "$OUT/megatron-$spec.txt" 2>&1
      echo "megatron $spec: exit $?"
      cp "/tmp/meg-$spec/train.log" "$OUT/megatron-$spec.train.log" 2>/dev/null
      cp "/tmp/meg-$spec/check.log" "$OUT/megatron-$spec.check.log" 2>/dev/null
    done
    timeout 60 $PY bench/megatron/options.py .megatron "$OUT/megatron-options.json" > "$OUT/megatron-options.txt" 2>&1; echo "options: exit $?"
    for example in deepseek-v3 mixtral; do
      node bin/moe.js compile "examples/$example.moe" --emit megatron -o "/tmp/meg-$example" > /dev/null 2>&1
      for script in /tmp/meg-"$example"/*.megatron.sh; do
        timeout 60 bash bench/megatron/validate.sh .megatron "$script" > "$OUT/validate-$example-$(basename "$script" .megatron.sh).txt" 2>&1
        echo "validate_args $example $(basename "$script"): exit $?"
      done
    done ;;
  4) PARTS=r1tiny bash bench/cuda-all.sh ;;
  5) PARTS=train bash bench/cuda-all.sh ;;
  6) PARTS=decode bash bench/cuda-all.sh ;;
  *) echo "device-round.sh: no round $round (1–6)" >&2; exit 2 ;;
esac
echo "round $round: $((SECONDS - t0)) s"
tar -czf "$final/round$round.tgz" -C "$OUT" . && echo "results: round$round.tgz"
