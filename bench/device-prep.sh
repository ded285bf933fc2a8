#!/usr/bin/env bash
# bench/device-prep.sh — everything bench/device-round.sh needs, prepared on this machine (no GPU):
# the kernels' PTX (nvcc), the MoE kernel check program (bench/cuda/bin, where the branch has it),
# dist/, the `.gpu/` pack (../shared/tools/gpu-pack.sh the first time; later only dist/ and the
# packages newer than the pack are refreshed into .gpu/extra.tar.xz, seconds instead of minutes), and
# Megatron-LM's Python package in .megatron/ when a mirror is given (MEGATRON_GIT=<git dir>; round 3).
# Then call the device with `bash bench/device-round.sh N`, carrying .gpu and bench/cuda/bin (+ .megatron).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v nvcc > /dev/null && npm run build:cuda
[[ -f bench/cuda/moe-kernels-check.sh ]] && bash bench/cuda/moe-kernels-check.sh
rm -rf dist && npx tsc -p tsconfig.build.json
if [[ ! -f .gpu/setup.sh ]]; then
  ../shared/tools/gpu-pack.sh --with dist
else
  # the pack's node_modules predate these runtime dependencies (hyparquet-compressors came later)
  tar -cf - dist node_modules/hyparquet node_modules/hyparquet-compressors node_modules/fzstd \
    node_modules/hysnappy node_modules/@huggingface/jinja | xz -T2 -1 > .gpu/extra.tar.xz
fi
if [[ -n ${MEGATRON_GIT:-} ]]; then
  rm -rf .megatron && mkdir -p .megatron
  git --git-dir="$MEGATRON_GIT" archive HEAD megatron pretrain_gpt.py gpt_builders.py model_provider.py | tar -x -C .megatron
  git --git-dir="$MEGATRON_GIT" rev-parse HEAD > .megatron/COMMIT
fi
du -sh .gpu bench/cuda/bin .megatron 2>/dev/null | sed 's/^/carry: /'
