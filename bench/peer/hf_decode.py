"""Greedy decode tokens/s of HF transformers on the config `moe compile --emit hf-config` writes (the
peer of `npm run bench decode` in bench/gpu.sh; run on the GPU machine).

    python3 bench/peer/hf_decode.py CONFIG.json [--new 32] [--batches 1,32] [--prompt 64]
        [--dtype fp32] [--repeats 3] [--out FILE]

Random weights on CUDA, random prompt ids (no padding), `model.generate(do_sample=False,
use_cache=True)` with the end-of-sequence id removed so every row makes exactly NEW tokens.

Method: generate() with one new token is the prefill (the prompt's forward pass and the first token);
generate() with NEW new tokens is the prefill plus NEW − 1 cached decode steps. Each is the median of
--repeats runs between torch.cuda.synchronize() calls, after one untimed warm-up, and

    decode tokens/s  = batch · (NEW − 1) / (t(NEW) − t(1))
    prefill tokens/s = batch · PROMPT / t(1)

which matches our benchmark's split (runtime/infer/generate.ts counts the first new token with the
prefill and times every later step as decode). HF's per-step host work (logits processors, stopping
criteria, cache bookkeeping) is inside its figure; ours leaves the host-side token pick out.
"""
import argparse
import json
import statistics
import sys
import time

import torch
import transformers
from transformers import AutoModelForCausalLM

from hf_train import describe, load_config, save_partial  # the same config reading (this folder is on sys.path)

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}




def timed_generate(model, ids, new_tokens, repeats):
    times, made = [], None
    for _ in range(repeats):
        torch.cuda.synchronize()
        started = time.perf_counter()
        with torch.no_grad():
            out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                                 min_new_tokens=new_tokens, do_sample=False, use_cache=True)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
        made = out.shape[1] - ids.shape[1]
    return statistics.median(times), times, made


def experts_of(model):
    get_experts = getattr(model, "get_experts_implementation", None)
    try:
        return get_experts() if callable(get_experts) else None
    except Exception as error:  # noqa: BLE001 - informational only
        return f"unknown ({error})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("config")
    parser.add_argument("--new", type=int, default=32, help="new tokens per row")
    parser.add_argument("--batches", default="1,32")
    parser.add_argument("--prompt", type=int, default=64, help="prompt tokens per row")
    parser.add_argument("--dtype", default="fp32", choices=sorted(DTYPES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", help="also write the JSON here, rewritten after every batch size")
    args = parser.parse_args()
    config, converted = load_config(args.config)
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(config)
    model = model.to(DTYPES[args.dtype]).eval()
    # no end-of-sequence id: a random model would stop some rows early
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    out = {
        "peer": "hf-transformers",
        "model_type": config.model_type,
        "dtype": args.dtype,
        "prompt": args.prompt,
        "new_tokens": args.new,
        "params": sum(p.numel() for p in model.parameters()),
        "method": "t(new=N) - t(new=1), medians of repeats after a warm-up",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "device": torch.cuda.get_device_name(0),
        "attention": getattr(model.config, "_attn_implementation", None),
        "converted_config_fields": converted,
        "runs": {},
    }
    generator = torch.Generator(device="cuda").manual_seed(0)
    def measure(batch):
        ids = torch.randint(0, config.vocab_size, (batch, args.prompt), device="cuda", generator=generator)
        timed_generate(model, ids, 2, 1)  # warm-up: kernels, cuBLAS handles, allocator
        one, one_all, _ = timed_generate(model, ids, 1, args.repeats)
        many, many_all, made = timed_generate(model, ids, args.new, args.repeats)
        return {
            "batch": batch,
            "decode_tokens_per_s": batch * (args.new - 1) / (many - one),
            "prefill_tokens_per_s": batch * args.prompt / one,
            "t_new1_s": one_all,
            "t_newN_s": many_all,
            "new_tokens_made": made,
            "experts": experts_of(model),
        }

    for batch in (int(b) for b in args.batches.split(",")):
        try:
            out["runs"][str(batch)] = measure(batch)
        except Exception as error:  # noqa: BLE001 - report it, try the eager experts loop, go on
            first = describe(error)
            try:
                model.set_experts_implementation("eager")
                out["runs"][str(batch)] = {**measure(batch), "default_experts_failed": first}
            except Exception as again:  # noqa: BLE001 - report both and go on to the next batch size
                out["runs"][str(batch)] = {"batch": batch, "error": first, "error_with_eager_experts": describe(again)}
        save_partial(out, args.out)
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
