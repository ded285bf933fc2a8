/** The cuda executor runs every IR op; a model with an op it lacks is refused in one line before opening, and `auto` falls back. */
import { describe, expect, it } from 'vitest';
import { lowerSpec } from '../../../compiler/lower/index.js';
import { OPS } from '../../../ir/ops.js';
import type { ModelGraph } from '../../../ir/types.js';
import { RuntimeError } from '../../../runtime/errors.js';
import type { SearchHost } from '../../../runtime/cuda/libraries.js';
import { cudaOp } from '../../../runtime/cuda/ops/index.js';
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

/** The model with its first attention node's op renamed: an op the IR might gain before cuda has kernels for it. */
function withNewOp(m: ModelGraph): ModelGraph {
  let renamed = false;
  const nodes = m.nodes.map((n) => (!renamed && n.op.startsWith('attention.') ? ((renamed = true), { ...n, op: 'attention.next' }) : n));
  return { ...m, nodes };
}

describe('cuda: ops without kernels', () => {
  it('has a kernel for every IR op', () => {
    expect(Object.keys(OPS).filter((op) => cudaOp(op) === undefined)).toEqual([]);
  });

  it('names nothing for issue 20 features (q/k norm, q/k/v biases, windows, the shared-expert gate)', () => {
    expect(cudaUnsupported(model('gqa { heads = 4, kv_heads = 2, qk_norm = head, qkv_bias = true, window = 8, window_layers = [1] }'))).toEqual([]);
    expect(cudaUnsupported(model('mha { heads = 4, qk_norm = full }', gated))).toEqual([]);
    expect(cudaUnsupported(model('mla { heads = 2, kv_rank = 8, nope_dim = 4, rope_dim = 4, v_dim = 4, window = 8 }'))).toEqual([]);
  });

  it('--backend cuda refuses a model with an op it lacks in one line before looking for cuda; auto falls back', async () => {
    const next = withNewOp(model('gqa { heads = 4, kv_heads = 2 }'));
    expect(cudaUnsupported(next)).toEqual(['attention.next']);
    const asked = cudaFor('cuda', nothing, [next]);
    await expect(asked).rejects.toBeInstanceOf(RuntimeError);
    await expect(asked).rejects.toThrow(/^the cuda backend has no kernels for attention\.next \(model M\)$/);
    expect(await cudaFor('auto', nothing, [next])).toBeUndefined();
    expect(await cudaFor(undefined, nothing, [next])).toBeUndefined();
    // a model it implements is refused only for the missing libraries
    await expect(cudaFor('cuda', nothing, [model('gqa { heads = 4, kv_heads = 2, qkv_bias = true }', gated)])).rejects.toThrow(/^no CUDA/);
  });
});
