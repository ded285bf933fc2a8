"""Runs Megatron-Core's own parse_args + validate_args on the flags of an emitted script.

Usage: bench/megatron/validate.sh MEGATRON_DIR SCRIPT: the script's torchrun is replaced by one that
sets WORLD_SIZE from --nproc_per_node × --nnodes and runs this file with the flags after pretrain_gpt.py.
"""
import os
import sys

root = os.environ['MEGATRON_DIR']
if os.environ.get('NO_TORCH'):
    # torch stood in (torch_stub.py): the argument checks run, torch-version branches see the stub
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import torch_stub  # noqa: F401
sys.path.insert(0, root)
from megatron.training.arguments import parse_args, validate_args  # noqa: E402

sys.argv = ['pretrain_gpt.py', *sys.argv[1:]]
args = parse_args()
validate_args(args)
print(f'validate_args: ok at world size {args.world_size} (data parallel {args.data_parallel_size})', flush=True)
