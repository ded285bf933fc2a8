#!/usr/bin/env bash
# Trains the Megatron-Core script of a spec on ONE GPU, on mock data, and checks the log:
#   bench/megatron/run.sh MEGATRON_DIR SPEC OUTDIR [STEPS]
# MEGATRON_DIR: a Megatron-LM checkout (megatron/, pretrain_gpt.py, gpt_builders.py, model_provider.py).
# SPEC: a .moe file (compiled here with `node bin/moe.js compile --emit megatron`: needs node) or an
#   emitted STAGE.megatron.sh (bench/megatron/*.megatron.sh: a machine without node needs bash + python).
# OUTDIR gets train.log (the whole output) and check.log (bench/megatron/check_log.py against
# SPEC's EXPECT.json beside it, when there is one: every spec setting in Megatron's printed arguments,
# at least STEPS iterations, the loss fell). Exit status: the training's, then the check's.
#
# The one-GPU layout is set through the script's MEGATRON_EXTRA_ARGS (its header): tensor, pipeline
# and expert parallel 1 (data parallel becomes 1; the global batch stays, as gradient accumulation),
# STEPS iterations, logging every step, and Megatron's local transformer implementation with the
# fusions that need Transformer Engine or apex turned off. PYTHON (default python3) must hold torch,
# pybind11, numpy, einops, packaging, regex and six; torchrun must be beside it or on PATH.
set -euo pipefail
MEGATRON_DIR=$(cd "$1" && pwd)
SPEC=$2
OUTDIR=$3
STEPS=${4:-30}
here=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-python3}
PYTHON=$(command -v "$PYTHON")
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)

case $SPEC in
  *.moe)
    node "$here/../../bin/moe.js" compile "$SPEC" --emit megatron -o "$OUTDIR/compiled"
    scripts=("$OUTDIR"/compiled/*.megatron.sh)
    [[ ${#scripts[@]} -eq 1 ]] || { echo "run.sh: $SPEC has ${#scripts[@]} pretrain stages; pass one script" >&2; exit 2; }
    script=${scripts[0]}
    expect=${SPEC%.moe}.expect.json ;;
  *.megatron.sh)
    script=$SPEC
    expect=${SPEC%.megatron.sh}.expect.json ;;
  *) echo "run.sh: SPEC must be a .moe file or an emitted .megatron.sh script" >&2; exit 2 ;;
esac

# Megatron compiles its dataset index helpers (megatron/core/datasets/Makefile) with python3 and
# python3-config from PATH; a virtual environment may have no python3-config, so both point at PYTHON.
shim="$OUTDIR/.bin"
mkdir -p "$shim"
ln -sf "$PYTHON" "$shim/python3"
cat > "$shim/python3-config" <<SHIM
#!/usr/bin/env bash
case \$1 in
  --extension-suffix) exec "$PYTHON" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))' ;;
  --includes) exec "$PYTHON" -c 'import sysconfig; print("-I" + sysconfig.get_paths()["include"])' ;;
  *) echo "python3-config shim: \$1 not supported" >&2; exit 1 ;;
esac
SHIM
chmod +x "$shim/python3-config"
export PATH="$shim:$(dirname "$PYTHON"):$PATH"
# The Makefile asks `python3 -m pybind11 --includes`. Without the pybind11 package (the GPU machine's
# torch venv has none, and no index to install from) the headers torch ships (torch/include/pybind11)
# serve: a stand-in module prints them with Python's own include folder.
pyextra=
if ! "$PYTHON" -c 'import pybind11' 2>/dev/null; then
  mkdir -p "$shim/py/pybind11"
  : > "$shim/py/pybind11/__init__.py"
  cat > "$shim/py/pybind11/__main__.py" <<'PYB'
import os, sysconfig, torch
print("-I" + os.path.join(os.path.dirname(torch.__file__), "include"), "-I" + sysconfig.get_paths()["include"])
PYB
  pyextra="$shim/py"
  echo "run.sh: no pybind11 package; the dataset helpers compile against torch's pybind11 headers"
fi

launcher=$MEGATRON_DIR
if grep -q -- '--multi-latent-attention' "$script"; then
  # Megatron-Core's MLA passes k_channels/v_channels that only Transformer Engine's attention takes:
  # launch_local_mla.py lets the local DotProductAttention take them (see its docstring)
  launcher="$OUTDIR/launch"
  mkdir -p "$launcher"
  cp "$here/launch_local_mla.py" "$launcher/pretrain_gpt.py"
  echo "run.sh: MLA under --transformer-impl local: launching through bench/megatron/launch_local_mla.py"
fi

ONE_GPU=(
  --tensor-model-parallel-size 1 --pipeline-model-parallel-size 1 --expert-model-parallel-size 1
  --train-iters "$STEPS" --log-interval 1
  --transformer-impl local --no-rope-fusion --no-gradient-accumulation-fusion --no-masked-softmax-fusion
)
export MEGATRON_EXTRA_ARGS="${ONE_GPU[*]} ${MEGATRON_EXTRA_ARGS:-}"
export MEGATRON_LM=$launcher MEGATRON_DIR DATA_PATH=mock TOKENIZER=null CHECKPOINT_DIR="$OUTDIR/checkpoint"
export NPROC_PER_NODE=1 NNODES=1 MASTER_PORT=${MASTER_PORT:-29517} PYTHONUNBUFFERED=1
export PYTHONPATH="$MEGATRON_DIR${pyextra:+:$pyextra}${PYTHONPATH:+:$PYTHONPATH}"
echo "run.sh: $script with MEGATRON_EXTRA_ARGS=$MEGATRON_EXTRA_ARGS"
set +e
bash "$script" 2>&1 | tee "$OUTDIR/train.log"
status=${PIPESTATUS[0]}
set -e
echo "run.sh: training exited with $status"
if [[ -f $expect ]]; then
  "$PYTHON" "$here/check_log.py" "$OUTDIR/train.log" "$expect" "$STEPS" | tee "$OUTDIR/check.log"
  check=${PIPESTATUS[0]}
else
  echo "run.sh: no $expect: the log is not checked"
  check=0
fi
[[ $status -eq 0 ]] || exit "$status"
exit "$check"
