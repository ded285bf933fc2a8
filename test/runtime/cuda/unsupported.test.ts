/**
 * The cuda executor refuses issue 20's attention features in one line, before opening; `auto` falls
 * back. The shared-expert gate it runs (ops/shared-gate.ts).
 */
import { describe, expect, it } from 'vitest';
import { lowerSpec } from '../../../compiler/lower/index.js';
import type { ModelGraph } from '../../../ir/types.js';
import { RuntimeError } from '../../../runtime/errors.js';
import type { SearchHost } from '../../../runtime/cuda/libraries.js';
import { cudaFor } from '../../../runtime/cuda/runtime.js';
import { cudaUnsupported } from '../../../runtime/cuda/unsupported.js';
import { checkText } from '../../helpers.js';

const nothing: SearchHost = { env: {}, listDir: () => [], pythonSitePackages: () => [] };
const gated = 'moe { experts = 4, shared = 1, shared_gate = true, hidden = 8, top_k = 2, router { score = softmax } }';

function model(attention: string, moe = 'moe { experts = 4, hidden = 8, top_k = 2, router { score = softmax } }'): ModelGraph {
  const checked = checkText(`model M {
  vocab = 40, dim = 16, layers = 2, context = 64
  attention ${attention}
  layers 0..1 { ${moe} }
}`);
  expect(checked.diagnostics).toEqual([]);
  return lowerSpec(checked, '/mem').models[0]!;
}

describe('cuda: unsupported features', () => {
  it('names each feature a model uses, once', () => {
    expect(cudaUnsupported(model('gqa { heads = 4, kv_heads = 2 }'))).toEqual([]);
    expect(cudaUnsupported(model('mla { heads = 2, kv_rank = 8, nope_dim = 4, rope_dim = 4, v_dim = 4 }'))).toEqual([]);
    expect(cudaUnsupported(model('gqa { heads = 4, kv_heads = 2, qk_norm = head, qkv_bias = true, window = 8, window_layers = [1] }'))).toEqual([
      'qk_norm = head',
      'qkv_bias',
      'window',
    ]);
    expect(cudaUnsupported(model('mha { heads = 4, qk_norm = full }'))).toEqual(['qk_norm = full']);
    expect(cudaUnsupported(model('mla { heads = 2, kv_rank = 8, nope_dim = 4, rope_dim = 4, v_dim = 4, window = 8 }'))).toEqual(['window']);
  });

  it('runs the shared-expert gate (Qwen2-MoE): a gated model names no feature', () => {
    expect(cudaUnsupported(model('mha { heads = 4 }', gated))).toEqual([]);
  });

  it('--backend cuda refuses such a model in one line before looking for cuda; auto falls back', async () => {
    const featured = model('gqa { heads = 4, kv_heads = 2, qkv_bias = true }');
    const asked = cudaFor('cuda', nothing, [featured]);
    await expect(asked).rejects.toBeInstanceOf(RuntimeError);
    await expect(asked).rejects.toThrow(/^the cuda backend does not implement qkv_bias \(model M\)$/);
    expect(await cudaFor('auto', nothing, [featured])).toBeUndefined();
    expect(await cudaFor(undefined, nothing, [featured])).toBeUndefined();
    // a model without them is refused only for the missing libraries, as before
    await expect(cudaFor('cuda', nothing, [model('gqa { heads = 4, kv_heads = 2 }')])).rejects.toThrow(/^no CUDA/);
    await expect(cudaFor('cuda', nothing, [model('gqa { heads = 4, kv_heads = 2 }', gated)])).rejects.toThrow(/^no CUDA/);
  });
});
