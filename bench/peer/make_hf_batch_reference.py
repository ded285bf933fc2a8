"""HF transformers' batched greedy generation of the committed micro checkpoints (issue 6).

Run on the GPU machine:  python3 bench/peer/make_hf_batch_reference.py OUT [NAME ...]
(NAME: a folder of test/reference/hf; default every micro checkpoint there.)
For each micro model in test/reference/hf/, three prompts of different lengths go through one
`generate` call with left padding and an attention mask (use_cache=True, greedy, float64 where the
experts kernel allows it), and OUT/NAME.batch.json holds the prompts and HF's new ids per prompt:
the reference our left-padded, KV-cached batch generation must equal token for token.
"""
import json
import os
import sys

import torch
import transformers
from transformers import AutoModelForCausalLM

out = sys.argv[1] if len(sys.argv) > 1 else "hf-reference"
os.makedirs(out, exist_ok=True)
PROMPTS = [[3, 17, 42], [100, 1, 1, 56, 90, 23, 45], [9, 81, 64, 2, 7]]
NEW = 16
PAD = 0

HF = os.path.join("test", "reference", "hf")
NAMES = sys.argv[2:] or sorted(n for n in os.listdir(HF) if os.path.isdir(os.path.join(HF, n)))

for name in NAMES:
    folder = os.path.join("test", "reference", "hf", name)
    try:
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, experts_implementation="eager").to(torch.float64).eval()
        dtype = "float64"
    except Exception as error:  # noqa: BLE001 - any failure means: float32
        print(name, "float64 failed:", str(error).split("\n")[0])
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
        dtype = "float32"
    width = max(len(p) for p in PROMPTS)
    ids = torch.tensor([[PAD] * (width - len(p)) + p for p in PROMPTS])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in PROMPTS])
    with torch.no_grad():
        batched = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=NEW, do_sample=False, pad_token_id=PAD, eos_token_id=None, use_cache=True)
        alone = [model.generate(input_ids=torch.tensor([p]), max_new_tokens=NEW, do_sample=False, pad_token_id=PAD, eos_token_id=None, use_cache=True)[0, len(p):].tolist() for p in PROMPTS]
    new = batched[:, width:].tolist()
    ref = {"transformers": transformers.__version__, "torch": torch.__version__, "dtype": dtype, "prompts": PROMPTS, "new_ids": new, "alone_new_ids": alone}
    with open(os.path.join(out, f"{name}.batch.json"), "w") as f:
        json.dump(ref, f)
    print(name, dtype, "batched == alone:", new == alone)
