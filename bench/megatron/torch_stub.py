"""Lets Megatron-LM's argument parser be built, and validate_args run, on a machine without torch
(bench/megatron/options.py --no-torch, validate.sh with NO_TORCH=1).

Imports of torch and the GPU packages Megatron touches at import time get modules whose every
attribute is a stand-in (callable, subscriptable, usable as a base class). Building the parser runs
no torch code, so the options it lists are the ones a real install lists; the GPU machine's run of
options.py with real torch is the check of that. Python 3.11 also lacks typing.override (3.12).
"""
import sys, types, importlib.abc, importlib.machinery
STUB = {'torch', 'einops', 'triton', 'transformer_engine', 'apex', 'flash_attn', 'nvidia_resiliency_ext', 'tensorstore', 'zarr', 'wandb', 'multistorageclient', 'torch_memory_saver', 'modelopt', 'nvidia'}
class Anything:
    def __init__(self, name='x'): self._n = name
    def __getattr__(self, name):
        if name.startswith('__') and name.endswith('__'): raise AttributeError(name)
        return Anything(name)
    def __call__(self, *a, **k):
        if len(a) == 1 and callable(a[0]) and not k: return a[0]
        return Anything()
    def __getitem__(self, k): return Anything()
    def __or__(self, o): return self
    def __ror__(self, o): return self
    def __iter__(self): return iter(())
    def __bool__(self): return False
    def __lt__(self, o): return False
    def __gt__(self, o): return False
    def __le__(self, o): return False
    def __ge__(self, o): return False
    def __mro_entries__(self, bases): return () if len(bases) > 1 else (object,)
    def __hash__(self): return id(self)
    def __eq__(self, o): return self is o
    def __repr__(self): return f'<stub {self._n}>'
class StubModule(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith('__') and name.endswith('__'): raise AttributeError(name)
        v = Anything(name); setattr(self, name, v); return v
class Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name.split('.')[0] in STUB: return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None
    def create_module(self, spec):
        m = StubModule(spec.name); m.__path__ = []; m.__version__ = '2.11.0'; return m
    def exec_module(self, module): pass
sys.meta_path.insert(0, Finder())
import typing  # noqa: E402

# validate_args maps dtype names with isinstance(d, torch.dtype): a real class with named instances
import torch  # noqa: E402  (the stub)
class dtype:
    def __init__(self, name): self.name = name
    def __repr__(self): return f'torch.{self.name}'
torch.dtype = dtype
for _name in ('float32', 'float16', 'bfloat16', 'float64', 'int32', 'int64', 'uint8', 'float8_e4m3fn'):
    setattr(torch, _name, dtype(_name))
torch.float, torch.half = torch.float32, torch.float16

if not hasattr(typing, 'override'):
    typing.override = lambda f: f
