"""Reference checkpoints and logits from HF transformers for the runtime's cross-check (issue 4).

Run on the GPU machine (it has transformers + torch):  python3 bench/peer/make_hf_reference.py OUT
Writes, per micro model, a HF checkpoint folder (config.json + model.safetensors, saved by
transformers itself) and OUT/NAME.logits.json with the float64 logits for fixed token ids and a greedy
continuation. The deepseek_v3 model exercises what the issue asks for: non-zero
e_score_correction_bias, n_group > 1 with topk_group < n_group, routed_scaling_factor != 1, q and kv
low rank, rope_interleave, YaRN scaling, a dense first layer and shared experts.
"""
import json
import os
import sys

import torch
import transformers
from transformers import AutoModelForCausalLM, DeepseekV3Config, MixtralConfig

from hf_random import randomize

out = sys.argv[1] if len(sys.argv) > 1 else "hf-reference"
os.makedirs(out, exist_ok=True)
torch.manual_seed(0)

IDS = [[3, 17, 42, 99, 5, 64, 7, 120, 33, 2, 81, 11], [100, 1, 1, 56, 90, 23, 45, 67, 12, 8, 77, 30]]


def build(name, config, bias=False):
    model = AutoModelForCausalLM.from_config(config).to(torch.float64)
    randomize(model, ("e_score_correction_bias",) if bias else ())
    model.eval()
    folder = os.path.join(out, name)
    model.to(torch.float32).save_pretrained(folder, safe_serialization=True)
    # the reference is computed from the saved float32 weights, in float64
    # in float64 where the experts kernel allows it (eager experts), else float32 on the CPU
    ids = torch.tensor(IDS)
    dtype = torch.float64
    try:
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, experts_implementation="eager").to(dtype).eval()
        with torch.no_grad():
            logits = model(input_ids=ids).logits
    except Exception as error:  # noqa: BLE001 - any failure means: fall back to float32
        print(name, "float64 failed:", str(error).split("\n")[0])
        dtype = torch.float32
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
        with torch.no_grad():
            logits = model(input_ids=ids).logits
    with torch.no_grad():
        greedy = model.generate(ids[:1, :4], max_new_tokens=12, do_sample=False, pad_token_id=0)
    ref = {
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "ids": IDS,
        "logits": logits.tolist(),
        "greedy_prompt": IDS[0][:4],
        "greedy_ids": greedy[0].tolist(),
        "dtype": str(dtype),
    }
    with open(os.path.join(out, f"{name}.logits.json"), "w") as f:
        json.dump(ref, f)
    print(name, dtype, "params", sum(p.numel() for p in model.parameters()), "max |logit|", logits.abs().max().item())
    from safetensors import safe_open
    with safe_open(os.path.join(folder, "model.safetensors"), "pt") as f:
        print(name, "tensors:", sorted(f.keys())[:40])


deepseek = DeepseekV3Config(
    vocab_size=128, hidden_size=32, intermediate_size=64, moe_intermediate_size=16,
    num_hidden_layers=3, first_k_dense_replace=1, num_attention_heads=4, num_key_value_heads=4,
    n_shared_experts=1, n_routed_experts=8, num_experts_per_tok=2, n_group=4, topk_group=2,
    routed_scaling_factor=2.5, norm_topk_prob=True, q_lora_rank=16, kv_lora_rank=16,
    qk_nope_head_dim=8, qk_rope_head_dim=4, v_head_dim=8, max_position_embeddings=128,
    rope_scaling={"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32,
                  "beta_fast": 32.0, "beta_slow": 1.0, "mscale": 1.0, "mscale_all_dim": 1.0},
    rope_theta=10000.0, rms_norm_eps=1e-6, tie_word_embeddings=False, rope_interleave=True,
)
build("deepseek-v3-micro", deepseek, bias=True)

mixtral = MixtralConfig(
    vocab_size=128, hidden_size=32, intermediate_size=24, num_hidden_layers=2, num_attention_heads=4,
    num_key_value_heads=2, num_local_experts=4, num_experts_per_tok=2, max_position_embeddings=128,
    rope_theta=10000.0, rms_norm_eps=1e-5, tie_word_embeddings=False, sliding_window=None,
)
build("mixtral-micro", mixtral)
