"""Loads folders written by `moe export hf` with transformers and compares them with the reference.

Usage (on the GPU machine, /opt/torch/.venv/bin/python):
    python bench/peer/check_hf_export.py EXPORTED_DIR REFERENCE.logits.json [EXPORTED_DIR REFERENCE.logits.json ...]

For each pair: AutoModelForCausalLM.from_pretrained(EXPORTED_DIR) in float64, logits on the reference's
ids, the max |difference| relative to the largest |reference logit| (must be < 1e-4), and greedy
generation from the reference's prompt (must give the reference's greedy ids). When the folder holds a
tokenizer, AutoTokenizer must load it too. Prints one line per folder; exits 1 when any fails.
"""
import json
import os
import sys
import traceback

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

TOLERANCE = 1e-4


def check(folder, reference_path):
    ref = json.load(open(reference_path))
    try:
        # as bench/peer/make_hf_families.py made the reference: eager experts run in float64
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, experts_implementation="eager")
    except TypeError:
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model = model.to(torch.float64).eval()
    ids = torch.tensor(ref["ids"])
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    expected = torch.tensor(ref["logits"], dtype=torch.float64)
    relative = ((logits - expected).abs().max() / expected.abs().max()).item()
    prompt = torch.tensor([ref["greedy_prompt"]])
    steps = len(ref["greedy_ids"]) - len(ref["greedy_prompt"])
    with torch.no_grad():
        greedy = model.generate(prompt, max_new_tokens=steps, do_sample=False, pad_token_id=0)[0].tolist()
    same_greedy = greedy == ref["greedy_ids"]
    tokenizer = "no tokenizer"
    if os.path.exists(os.path.join(folder, "tokenizer.json")):
        tok = AutoTokenizer.from_pretrained(folder)
        tokenizer = f"tokenizer loads (eos {tok.eos_token!r})"
    ok = relative < TOLERANCE and same_greedy
    greedy_note = "identical" if same_greedy else "differ: %s vs %s" % (greedy, ref["greedy_ids"])
    print(f"{'PASS' if ok else 'FAIL'} {folder}: model_type {model.config.model_type}, max relative logit difference {relative:.3e} "
          f"(limit {TOLERANCE:g}), greedy ids {greedy_note}, {tokenizer}")
    return ok


def main(args):
    if len(args) == 0 or len(args) % 2 != 0:
        print(__doc__)
        return 2
    failures = 0
    for folder, reference in zip(args[0::2], args[1::2]):
        try:
            if not check(folder, reference):
                failures += 1
        except Exception:  # noqa: BLE001 - report every folder, then fail
            failures += 1
            print(f"FAIL {folder}: transformers could not load or run it")
            traceback.print_exc()
    print(f"{len(args) // 2 - failures} of {len(args) // 2} exported folders match HF's reference")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
