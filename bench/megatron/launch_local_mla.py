"""pretrain_gpt.py with one shim, for MLA under --transformer-impl local (no Transformer Engine).

Megatron-Core's MLASelfAttention builds its core attention with k_channels= and v_channels=, which
TEDotProductAttention takes and the local DotProductAttention does not (a TypeError at model build,
as read in Megatron-Core 0.20's code at d98e8a64; not yet seen in a run). The shim lets DotProductAttention take them: MLA passes its own softmax scale,
and the local attention sizes its output by kv_channels, so v_channels must equal it (a spec with
v_dim = dim / heads). Megatron's files are not changed. Run as torchrun's script in place of
pretrain_gpt.py; MEGATRON_DIR names the Megatron-LM checkout.
"""
import os
import runpy
import sys

root = os.environ['MEGATRON_DIR']
sys.path.insert(0, root)
from megatron.core.transformer import dot_product_attention  # noqa: E402

_init = dot_product_attention.DotProductAttention.__init__


def _init_with_channels(self, *args, k_channels=None, v_channels=None, **kwargs):
    _init(self, *args, **kwargs)
    if v_channels is not None and v_channels != self.hidden_size_per_attention_head:
        raise ValueError(
            f'local DotProductAttention writes heads of kv_channels = {self.hidden_size_per_attention_head}, '
            f'MLA values have v_head_dim = {v_channels}: use v_dim = dim / heads, or Transformer Engine'
        )


dot_product_attention.DotProductAttention.__init__ = _init_with_channels
sys.argv[0] = os.path.join(root, 'pretrain_gpt.py')
runpy.run_path(sys.argv[0], run_name='__main__')
