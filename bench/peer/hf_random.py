"""The random weights of the HF reference checkpoints (make_hf_reference.py, make_hf_families.py).

Every matrix ~N(0, 0.3), every vector ~N(0, 0.1) — biases non-zero — and norm weights 1 + N(0, 0.1),
so that each feature changes the logits; buffers whose names end with one of `buffers` (DeepSeek's
e_score_correction_bias) ~N(0, 0.5). Draws from torch's global generator, in parameter order.
"""
import torch


def randomize(model, buffers=()):
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.normal_(0.0, 0.3 if p.dim() >= 2 else 0.1)
            if n.endswith("norm.weight") or "layernorm" in n:
                p.add_(1.0)
        for n, b in model.named_buffers():
            if any(n.endswith(s) for s in buffers):
                b.normal_(0.0, 0.5)
