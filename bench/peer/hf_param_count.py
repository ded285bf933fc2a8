"""Parameter counts of HF transformers models for the configs of our examples (run on the GPU machine).

Builds each model on the meta device (no memory) and prints sum(p.numel()) per config as JSON,
the reference `test/examples.test.ts` asserts against. Buffers (the router's
e_score_correction_bias) are not parameters, as in our statistics.
"""
import json
import sys

import torch
import transformers
from transformers import AutoModelForCausalLM, DeepseekV3Config, MixtralConfig


def count(config):
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return sum(p.numel() for p in model.parameters())


def deepseek(**kw):
    return DeepseekV3Config(**kw)


configs = {
    "DeepSeekV3": deepseek(
        vocab_size=129280, hidden_size=7168, intermediate_size=18432, moe_intermediate_size=2048,
        num_hidden_layers=61, num_attention_heads=128, num_key_value_heads=128, n_shared_experts=1,
        n_routed_experts=256, num_experts_per_tok=8, n_group=8, topk_group=4, first_k_dense_replace=3,
        q_lora_rank=1536, kv_lora_rank=512, qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128,
        tie_word_embeddings=False,
    ),
    "DeepSeekV2Lite": deepseek(
        vocab_size=102400, hidden_size=2048, intermediate_size=10944, moe_intermediate_size=1408,
        num_hidden_layers=27, num_attention_heads=16, num_key_value_heads=16, n_shared_experts=2,
        n_routed_experts=64, num_experts_per_tok=6, n_group=1, topk_group=1, first_k_dense_replace=1,
        q_lora_rank=None, kv_lora_rank=512, qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128,
        tie_word_embeddings=False,
    ),
    "DeepSeekTiny": deepseek(
        vocab_size=320, hidden_size=64, intermediate_size=256, moe_intermediate_size=64,
        num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=4, n_shared_experts=1,
        n_routed_experts=8, num_experts_per_tok=2, n_group=4, topk_group=2, first_k_dense_replace=1,
        q_lora_rank=32, kv_lora_rank=32, qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=16,
        tie_word_embeddings=False,
    ),
    "Mixtral8x7B": MixtralConfig(
        vocab_size=32000, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
        num_attention_heads=32, num_key_value_heads=8, num_local_experts=8, num_experts_per_tok=2,
        tie_word_embeddings=False,
    ),
}

result = {"transformers": transformers.__version__, "torch": torch.__version__, "counts": {}}
for name, config in configs.items():
    result["counts"][name] = count(config)
json.dump(result, sys.stdout, indent=2)
print()
