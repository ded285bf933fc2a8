/**
 * The specs the cuda device checks run (bench/cuda-check.ts, bench/cuda-decode-check.ts): together
 * they cover every op variant (MLA with and without query compression, YaRN, GQA, sigmoid
 * group-limited and softmax routing, bias, capacity, shared experts with and without Qwen2-MoE's
 * gate, balance and z losses, MTP; q/k/v biases, q/k norm per head and full width, sliding windows
 * on some layers, GQA and MLA).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeHost } from '../compiler/bind/node-host.js';
import { checkFile } from '../compiler/check/index.js';
import { lowerSpec } from '../compiler/lower/index.js';
import type { ModelGraph } from '../ir/types.js';

export const SPECS: Record<string, string> = {
  'mla-yarn-groups': `model A {
  vocab = 64, dim = 32, layers = 3, context = 64
  init { std = 0.2 }
  rope { theta = 10000, scaling yarn { factor = 2, original_context = 32, mscale_all_dim = 1 } }
  attention mla { heads = 4, q_rank = 16, kv_rank = 16, nope_dim = 8, rope_dim = 4, v_dim = 8 }
  layers 0..0 { ffn swiglu { hidden = 48 } }
  layers 1..2 { moe { experts = 8, shared = 1, hidden = 16, top_k = 2
    router { score = sigmoid, groups = 4, top_groups = 2, scale = 1.5, balance = bias { rate = 1e-3 },
             aux_loss = sequence { alpha = 1e-2 }, z_loss = 1e-3 } } }
  mtp { depth = 1, weight = 0.3 }
}`,
  'mla-noq-softmax': `model B {
  vocab = 50, dim = 24, layers = 2, context = 64
  init { std = 0.2 }
  attention mla { heads = 2, q_rank = 0, kv_rank = 8, nope_dim = 8, rope_dim = 8, v_dim = 4 }
  layers 0..1 { moe { experts = 6, hidden = 8, top_k = 3, router { score = softmax, normalize = true, aux_loss = batch { alpha = 0.02 } } } }
}`,
  'gqa-capacity': `model C {
  vocab = 70, dim = 32, layers = 2, context = 64
  init { std = 0.2 }
  attention gqa { heads = 4, kv_heads = 2 }
  layers 0..1 { moe { experts = 4, hidden = 16, top_k = 2, router { score = softmax, normalize = true, capacity = 1.0 } } }
}`,
  'gqa-bias-norm-window': `model D {
  vocab = 60, dim = 32, layers = 2, context = 64
  init { std = 0.2 }
  attention gqa { heads = 4, kv_heads = 2, qkv_bias = true, qk_norm = head, window = 6, window_layers = [1] }
  layers 0..1 { moe { experts = 4, hidden = 16, top_k = 2, router { score = softmax, normalize = false } } }
}`,
  'mha-full-norm': `model E {
  vocab = 48, dim = 24, layers = 2, context = 64
  init { std = 0.2 }
  attention mha { heads = 3, qk_norm = full }
  layers 0..1 { moe { experts = 4, hidden = 8, top_k = 2, router { score = softmax, normalize = false } } }
}`,
  'mla-window': `model F {
  vocab = 50, dim = 24, layers = 2, context = 64
  init { std = 0.2 }
  attention mla { heads = 2, q_rank = 8, kv_rank = 8, nope_dim = 4, rope_dim = 4, v_dim = 4, window = 5 }
  layers 0..1 { ffn swiglu { hidden = 32 } }
}`,
  'gqa-shared-gate': `model G {
  vocab = 48, dim = 32, layers = 2, context = 64
  init { std = 0.2 }
  attention gqa { heads = 4, kv_heads = 1 }
  layers 0..1 { moe { experts = 4, shared = 1, shared_gate = true, hidden = 16, top_k = 2, router { score = softmax, aux_loss = sequence { alpha = 1e-2 } } } }
}`,
};

export function modelOf(name: string, text: string): ModelGraph {
  const dir = mkdtempSync(join(tmpdir(), 'moe-cuda-'));
  const path = join(dir, `${name}.moe`);
  writeFileSync(path, text);
  const checked = checkFile(path, nodeHost);
  const errors = checked.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) throw new Error(`${name}: ${errors.map((d) => d.message).join('; ')}`);
  return lowerSpec(checked, dir).models[0]!;
}

/** The largest |a − b| over the largest |b|. */
export function relative(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst / Math.max(scale, 1e-30);
}
