"""Writes Megatron-Core's command-line options as JSON: the fixture test/fixtures/megatron/options.json.

Usage: python options.py MEGATRON_DIR OUT.json [--no-torch]
(Megatron imports torch; --no-torch stands torch in with bench/megatron/torch_stub.py. Megatron
logs to stdout on import, hence the output file.)

The options are read from the parser Megatron-LM itself builds (add_megatron_arguments), so the ones
that its ArgumentGroupFactory derives from config dataclasses are there too. For each option: whether
it takes a value (a store_true/store_false flag does not).
"""
import argparse
import json
import os
import sys

root, out = sys.argv[1], sys.argv[2]
if '--no-torch' in sys.argv[3:]:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import torch_stub  # noqa: F401
sys.path.insert(0, root)
from megatron.core import package_info  # noqa: E402
from megatron.training.arguments import add_megatron_arguments  # noqa: E402

parser = add_megatron_arguments(argparse.ArgumentParser(allow_abbrev=False))
options = {}
for action in parser._actions:  # argparse keeps no public list of its actions
    for option in action.option_strings:
        if option.startswith('--'):
            options[option] = action.nargs != 0
commit_file = os.path.join(root, 'COMMIT')
commit = open(commit_file).read().strip() if os.path.exists(commit_file) else None
with open(out, 'w') as f:
    f.write(json.dumps({
        'source': 'NVIDIA/Megatron-LM megatron/training/arguments.py (add_megatron_arguments), read by bench/megatron/options.py',
        'torch': 'stand-in (torch_stub.py)' if '--no-torch' in sys.argv[3:] else 'real',
        'commit': commit,
        'version': package_info.__version__,
        'options': dict(sorted(options.items())),
    }, indent=1) + '\n')
