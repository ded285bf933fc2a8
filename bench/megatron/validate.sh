#!/usr/bin/env bash
# Checks an emitted Megatron script with Megatron-Core's own validate_args at the world size of its
# torchrun line, without GPUs: bench/megatron/validate.sh MEGATRON_DIR SCRIPT. Needs torch; with
# NO_TORCH=1 torch is stood in by torch_stub.py (the checks of the arguments run; branches on torch's
# version or devices see the stub), so any python3 ≥ 3.10 runs it.
set -euo pipefail
MEGATRON_DIR=$(cd "$1" && pwd)
SCRIPT=$2
here=$(cd "$(dirname "$0")" && pwd)
fake=$(mktemp -d)
trap 'rm -rf "$fake"' EXIT
cat > "$fake/torchrun" <<'FAKE'
#!/usr/bin/env bash
# torchrun's own flags set the world size; the rest after pretrain_gpt.py goes to validate.py
nproc=1 nnodes=1
while [[ $# -gt 0 && $1 != *pretrain_gpt.py ]]; do
  case $1 in --nproc_per_node=*) nproc=${1#*=} ;; --nnodes=*) nnodes=${1#*=} ;; esac
  shift
done
shift
WORLD_SIZE=$((nproc * nnodes)) RANK=0 exec "${PYTHON:-python3}" "$VALIDATE_PY" "$@"
FAKE
chmod +x "$fake/torchrun"
PATH="$fake:$PATH" MEGATRON_DIR="$MEGATRON_DIR" VALIDATE_PY="$here/validate.py" \
  DATA_PATH=${DATA_PATH:-/data/corpus_text_document} TOKENIZER=${TOKENIZER:-/tokenizer} bash "$SCRIPT"
