"""Training tokens/s of HF transformers on the config `moe compile --emit hf-config` writes (the peer of
`moe train` in bench/gpu.sh; run on the GPU machine, which has torch + transformers).

    python3 bench/peer/hf_train.py CONFIG.json --batch B --seq T [--steps N] [--warmup W]
        [--dtype fp32,bf16] [--lr 3e-4] [--betas 0.9,0.95] [--weight-decay 0.1] [--eps 1e-8] [--clip 1]

Builds DeepseekV3ForCausalLM or MixtralForCausalLM (from the config's model_type) with random
weights on CUDA and trains it on random token ids: forward with labels (HF's shifted cross-entropy),
backward, global gradient-norm clipping, AdamW (torch's fused kernel where available, the way an HF
user would train), zero_grad. Every step is timed between two torch.cuda.synchronize() calls; the
figure is the median over the steps after the warm-up. One JSON object on stdout, one entry per dtype:
  fp32  float32 weights, optimizer state and math; TF32 off (torch's default), as our fp32 trainer
  bf16  bfloat16 weights and optimizer state (the model cast with .to(bfloat16)): the fastest plain
        HF set-up, an upper bound for what mixed precision would give
  amp   float32 weights, gradients and AdamW state, the forward under torch.autocast(bfloat16):
        PyTorch's mixed precision, the same recipe as our precision = bf16 (fp32 master weights and
        optimizer state, bf16 products)
A dtype that fails (out of memory, an unsupported kernel) is tried again with the eager experts loop,
then reports its error(s), and the others still run;
--out FILE keeps the finished dtypes when a timeout kills the script.
"""
import argparse
import json
import re
import statistics
import sys
import time

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "amp": torch.float32}


def load_config(path):
    """The HF config of our config.json. Our JSON writes 1.0 as 1 (JavaScript has one number type),
    and transformers 5's strict config fields reject an int for a float field: such a field is
    converted and the config built again."""
    with open(path) as f:
        raw = json.load(f)
    # our config says bfloat16 (the dtype of an exported checkpoint); the benchmark chooses the dtype
    for key in ("torch_dtype", "dtype", "architectures"):
        raw.pop(key, None)
    model_type = raw.pop("model_type")
    converted = []
    for _ in range(len(raw) + 1):
        try:
            return AutoConfig.for_model(model_type, **raw), converted
        except Exception as error:  # noqa: BLE001 - huggingface_hub's StrictDataclassFieldValidationError
            text = str(error)
            field = re.search(r"field '(\w+)'", text)
            wanted = re.search(r"expected (\w+), got (\w+)", text)
            if not field or not wanted or field[1] not in raw or wanted[1] not in ("float", "int"):
                raise
            raw[field[1]] = float(raw[field[1]]) if wanted[1] == "float" else int(raw[field[1]])
            converted.append(field[1])
    raise RuntimeError("config fields kept failing validation")


def implementations(model):
    """The attention and experts kernels the model runs, as transformers chose them by default."""
    found = {"attention": getattr(model.config, "_attn_implementation", None)}
    get_experts = getattr(model, "get_experts_implementation", None)
    if callable(get_experts):
        try:
            found["experts"] = get_experts()
        except Exception as error:  # noqa: BLE001 - informational only
            found["experts"] = f"unknown ({error})"
    return found


def run(config, dtype_name, args, experts=None):
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(config)
    model = model.to(DTYPES[dtype_name]).train()
    if experts is not None:
        model.set_experts_implementation(experts)
    params = sum(p.numel() for p in model.parameters())
    try:
        optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=args.betas, eps=args.eps,
                                      weight_decay=args.weight_decay, fused=True)
        fused = True
    except (RuntimeError, TypeError):
        optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=args.betas, eps=args.eps,
                                      weight_decay=args.weight_decay)
        fused = False
    vocab = config.vocab_size
    generator = torch.Generator(device="cuda").manual_seed(0)
    steps = args.warmup + args.steps
    batches = torch.randint(0, vocab, (steps, args.batch, args.seq), device="cuda", generator=generator)
    torch.cuda.reset_peak_memory_stats()
    times, losses = [], []
    for step in range(steps):
        ids = batches[step]
        torch.cuda.synchronize()
        started = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=dtype_name == "amp"):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        if args.clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
        losses.append(loss.item())
    timed = times[args.warmup:]
    seconds = statistics.median(timed)
    result = {
        "dtype": dtype_name,
        "params": params,
        "tokens_per_s": args.batch * args.seq / seconds,
        "step_ms_median": seconds * 1000,
        "step_ms": [round(t * 1000, 3) for t in times],
        "warmup_steps": args.warmup,
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30,
        "fused_adamw": fused,
        "implementations": implementations(model),
    }
    del model, optimizer, batches
    torch.cuda.empty_cache()
    return result


def save_partial(out, path):
    """Writes the results so far to `path` (if given), so a timeout still leaves figures."""
    if path:
        with open(path, "w") as f:
            json.dump(out, f)


def describe(error):
    lines = [l for l in str(error).splitlines() if l.strip()]
    return f"{type(error).__name__}: {' | '.join(lines[:3])[:400]}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("config")
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--seq", type=int, required=True)
    parser.add_argument("--steps", type=int, default=10, help="timed steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--dtype", default="fp32", help="comma-separated: fp32, bf16, amp")
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--betas", type=lambda s: tuple(float(x) for x in s.split(",")), default=(0.9, 0.95))
    parser.add_argument("--weight-decay", type=float, default=0.1)
    parser.add_argument("--eps", type=float, default=1e-8)
    parser.add_argument("--clip", type=float, default=1.0, help="global gradient-norm clip; 0 = off")
    parser.add_argument("--out", help="also write the JSON here, rewritten after every dtype (a timeout keeps what ran)")
    args = parser.parse_args()
    config, converted = load_config(args.config)
    out = {
        "peer": "hf-transformers",
        "model_type": config.model_type,
        "batch": args.batch,
        "seq": args.seq,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "cuda": torch.version.cuda,
        "device": torch.cuda.get_device_name(0),
        "tf32": torch.backends.cuda.matmul.allow_tf32,
        "runs": {},
    }
    out["converted_config_fields"] = converted
    for name in args.dtype.split(","):
        try:
            out["runs"][name] = run(config, name, args)
        except Exception as error:  # noqa: BLE001 - report it, try the eager experts loop, go on
            first = describe(error)
            torch.cuda.empty_cache()
            try:
                out["runs"][name] = run(config, name, args, experts="eager")
                out["runs"][name]["default_experts_failed"] = first
            except Exception as again:  # noqa: BLE001 - report both and go on to the next dtype
                out["runs"][name] = {"dtype": name, "error": first, "error_with_eager_experts": describe(again)}
                torch.cuda.empty_cache()
        save_partial(out, args.out)
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
