"""Reference checkpoints for issue 20: one tiny random model per HF family we import and export.

Run on the GPU machine:  python3 bench/peer/make_hf_families.py OUT
Writes OUT/NAME/ (config.json, model.safetensors, tokenizer files for the one family that carries a
tokenizer) and OUT/NAME.logits.json (float64 logits on fixed ids and a greedy continuation), plus
OUT/param-counts.json with HF's parameter counts of the full-size configs of the three new examples.
Weights as bench/peer/hf_random.py draws them (every bias and norm weight non-zero, so that each
feature changes the logits). One family failing does not stop the others.
"""
import json
import os
import sys
import traceback

import torch
import transformers
from transformers import AutoModelForCausalLM

from hf_random import randomize

out = sys.argv[1] if len(sys.argv) > 1 else "hf-families"
os.makedirs(out, exist_ok=True)

IDS = [[3, 17, 42, 99, 5, 64, 7, 120, 33, 2, 81, 11], [100, 1, 1, 56, 90, 23, 45, 67, 12, 8, 77, 30]]


def logits_of(folder):
    ids = torch.tensor(IDS)
    for dtype in (torch.float64, torch.float32):
        try:
            model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, experts_implementation="eager").to(dtype).eval()
            with torch.no_grad():
                return model, model(input_ids=ids).logits, dtype
        except Exception as error:  # noqa: BLE001 - fall back to float32
            print(folder, dtype, "failed:", str(error).split("\n")[0])
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    with torch.no_grad():
        return model, model(input_ids=ids).logits, torch.float32


def build(name, config, buffers=()):
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config).to(torch.float64)
    randomize(model, buffers)
    folder = os.path.join(out, name)
    model.to(torch.float32).save_pretrained(folder, safe_serialization=True)
    model, logits, dtype = logits_of(folder)
    with torch.no_grad():
        greedy = model.generate(torch.tensor(IDS)[:1, :4], max_new_tokens=12, do_sample=False, pad_token_id=0)
    ref = {
        "transformers": transformers.__version__, "torch": torch.__version__, "ids": IDS,
        "logits": logits.tolist(), "greedy_prompt": IDS[0][:4], "greedy_ids": greedy[0].tolist(),
        "dtype": str(dtype), "config": model.config.to_dict(),
    }
    with open(os.path.join(out, f"{name}.logits.json"), "w") as f:
        json.dump(ref, f, default=str)
    print(name, dtype, "params", sum(p.numel() for p in model.parameters()), "max |logit|", logits.abs().max().item())
    print(name, "parameters:", [(n, tuple(p.shape)) for n, p in model.named_parameters()][:40])
    return folder


def tokenizer_into(folder):
    """A 128-token byte-level BPE with a chat template: the tokenizer that must travel with the weights."""
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers
    from transformers import PreTrainedTokenizerFast
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=128, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet()[:100], show_progress=False)
    text = ["What is 12+30? The answer is 42.", "user assistant system think answer", "1 2 3 4 5 6 7 8 9 0 + - = ?"] * 50
    tok.train_from_iterator(text, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token=None)
    fast.chat_template = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    fast.save_pretrained(folder)
    enc = fast.apply_chat_template([{"role": "user", "content": "What is 12+30?"}], add_generation_prompt=True, tokenize=True)
    with open(os.path.join(folder, "..", os.path.basename(folder) + ".tokenizer.json"), "w") as f:
        json.dump({"chat_ids": enc if isinstance(enc, list) else enc["input_ids"], "vocab": tok.get_vocab_size()}, f)


def family(name, make, buffers=(), tokenizer=False):
    if not wanted(name):
        return
    try:
        folder = build(name, make(), buffers)
        if tokenizer:
            tokenizer_into(folder)
    except Exception:  # noqa: BLE001 - report and go on with the next family
        print(name, "FAILED")
        traceback.print_exc()


C = transformers
ONLY = sys.argv[2:]


def wanted(name):
    return not ONLY or name in ONLY


family("deepseek-v2-micro", lambda: C.DeepseekV2Config(
    vocab_size=128, hidden_size=32, intermediate_size=64, moe_intermediate_size=16, num_hidden_layers=3,
    first_k_dense_replace=1, num_attention_heads=4, num_key_value_heads=4, n_shared_experts=1, n_routed_experts=8,
    num_experts_per_tok=2, n_group=4, topk_group=2, topk_method="group_limited_greedy", routed_scaling_factor=2.0,
    norm_topk_prob=False, q_lora_rank=None, kv_lora_rank=16, qk_nope_head_dim=8, qk_rope_head_dim=4, v_head_dim=8,
    max_position_embeddings=128, rope_theta=10000.0, rms_norm_eps=1e-6, tie_word_embeddings=False))
family("qwen2-moe-micro", lambda: C.Qwen2MoeConfig(
    vocab_size=128, hidden_size=32, intermediate_size=64, moe_intermediate_size=16, shared_expert_intermediate_size=24,
    num_experts=8, num_experts_per_tok=2, norm_topk_prob=False, decoder_sparse_step=1, mlp_only_layers=[],
    num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
    rope_theta=10000.0, rms_norm_eps=1e-6, tie_word_embeddings=False, use_sliding_window=False))
family("qwen2-moe-sliding-micro", lambda: C.Qwen2MoeConfig(
    vocab_size=128, hidden_size=32, intermediate_size=64, moe_intermediate_size=16, shared_expert_intermediate_size=24,
    num_experts=8, num_experts_per_tok=2, norm_topk_prob=True, decoder_sparse_step=1, mlp_only_layers=[],
    num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
    rope_theta=10000.0, rms_norm_eps=1e-6, tie_word_embeddings=False, use_sliding_window=True, sliding_window=5,
    max_window_layers=1, layer_types=["sliding_attention", "full_attention"]))
family("qwen3-moe-micro", lambda: C.Qwen3MoeConfig(
    vocab_size=128, hidden_size=32, intermediate_size=64, moe_intermediate_size=16, num_experts=8,
    num_experts_per_tok=2, norm_topk_prob=True, decoder_sparse_step=1, mlp_only_layers=[], num_hidden_layers=2,
    num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=128, rope_theta=10000.0,
    rms_norm_eps=1e-6, tie_word_embeddings=False, attention_bias=False), tokenizer=True)
family("olmoe-micro", lambda: C.OlmoeConfig(
    vocab_size=128, hidden_size=32, intermediate_size=16, num_experts=8, num_experts_per_tok=2,
    norm_topk_prob=False, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
    max_position_embeddings=128, rope_theta=10000.0, rms_norm_eps=1e-5, tie_word_embeddings=False, clip_qkv=None))
family("llama-micro", lambda: C.LlamaConfig(
    vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
    num_key_value_heads=2, max_position_embeddings=128, rope_theta=500000.0, rms_norm_eps=1e-5,
    tie_word_embeddings=False, attention_bias=False, mlp_bias=False))


def count(config):
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return sum(p.numel() for p in model.parameters())


counts = {}
for label, make in {
    "Qwen3-30B-A3B": lambda: C.Qwen3MoeConfig(
        vocab_size=151936, hidden_size=2048, intermediate_size=6144, moe_intermediate_size=768, num_hidden_layers=48,
        num_attention_heads=32, num_key_value_heads=4, head_dim=128, num_experts=128, num_experts_per_tok=8,
        norm_topk_prob=True, decoder_sparse_step=1, mlp_only_layers=[], max_position_embeddings=40960,
        rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=False, attention_bias=False),
    "OLMoE-1B-7B-0924": lambda: C.OlmoeConfig(
        vocab_size=50304, hidden_size=2048, intermediate_size=1024, num_experts=64, num_experts_per_tok=8,
        norm_topk_prob=False, num_hidden_layers=16, num_attention_heads=16, num_key_value_heads=16,
        max_position_embeddings=4096, rope_theta=10000.0, rms_norm_eps=1e-5, tie_word_embeddings=False, clip_qkv=None),
    "Qwen1.5-MoE-A2.7B": lambda: C.Qwen2MoeConfig(
        vocab_size=151936, hidden_size=2048, intermediate_size=5632, moe_intermediate_size=1408,
        shared_expert_intermediate_size=5632, num_experts=60, num_experts_per_tok=4, norm_topk_prob=False,
        decoder_sparse_step=1, mlp_only_layers=[], num_hidden_layers=24, num_attention_heads=16,
        num_key_value_heads=16, max_position_embeddings=8192, rope_theta=1000000.0, rms_norm_eps=1e-6,
        tie_word_embeddings=False, use_sliding_window=False),
}.items():
    try:
        counts[label] = count(make())
    except Exception as error:  # noqa: BLE001
        counts[label] = f"failed: {error}"
print("param counts", counts)
with open(os.path.join(out, "param-counts.json"), "w") as f:
    json.dump({"transformers": transformers.__version__, "counts": counts}, f, indent=1)
