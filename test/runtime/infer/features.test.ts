/**
 * Cached decoding of issue 20's features against the uncached forward pass: q/k/v biases, q/k norm
 * per head and full width, the shared-expert gate, and sliding windows (some layers or all, GQA and
 * MLA in both cache modes) over more tokens than the window, so the window is crossed while
 * decoding. Biases and norm weights are set away from their initial zeros and ones so that each
 * feature changes the logits (checked).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { lowerSpec } from '../../../compiler/lower/index.js';
import type { ModelGraph } from '../../../ir/types.js';
import { generate, type GenerateOptions } from '../../../runtime/infer/generate.js';
import { GREEDY } from '../../../runtime/infer/sampling.js';
import { forward } from '../../../runtime/model/forward.js';
import { ParamStore } from '../../../runtime/model/params.js';
import { normalArray } from '../../../runtime/random.js';
import { tf } from '../../../runtime/tf.js';
import { checkText } from '../../helpers.js';
import { useCpu } from '../gradcheck.js';
import { relativeError, worstCachedError } from './cached-decode.js';

function lower(text: string): ModelGraph {
  const checked = checkText(text);
  expect(checked.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([]);
  return lowerSpec(checked, '/mem').models[0]!;
}

const spec = (attention: string, ffn: string): string => `model F {
  vocab = 40, dim = 16, layers = 2, context = 64
  init { std = 0.3 }
  rope { theta = 500 }
  attention ${attention}
  layers 0..1 { ${ffn} }
}`;
const MOE = 'moe { experts = 4, hidden = 8, top_k = 2, router { score = softmax, normalize = false } }';
const GATED = 'moe { experts = 4, shared = 1, shared_gate = true, hidden = 8, top_k = 2, router { score = softmax } }';

const CASES: [name: string, attention: string, ffn: string, mode: 'latent' | 'naive'][] = [
  ['Qwen2-MoE-like: q/k/v biases, gated shared expert', 'mha { heads = 4, head_dim = 4, qkv_bias = true }', GATED, 'latent'],
  ['Qwen3-MoE-like: per-head q/k norm, GQA', 'gqa { heads = 4, kv_heads = 2, head_dim = 4, qk_norm = head }', MOE, 'latent'],
  ['OLMoE-like: full-width q/k norm', 'mha { heads = 4, head_dim = 4, qk_norm = full }', MOE, 'latent'],
  ['GQA, window 3 on layer 1 only, biases', 'gqa { heads = 4, kv_heads = 2, head_dim = 4, qkv_bias = true, window = 3, window_layers = [1] }', MOE, 'latent'],
  ['GQA, window 2 on every layer, per-head norm', 'gqa { heads = 4, kv_heads = 1, head_dim = 4, qk_norm = head, window = 2 }', MOE, 'latent'],
  ['MLA, window 3, latent cache', 'mla { heads = 2, kv_rank = 8, nope_dim = 4, rope_dim = 4, v_dim = 4, window = 3 }', MOE, 'latent'],
  ['MLA, window 3, naive cache', 'mla { heads = 2, kv_rank = 8, nope_dim = 4, rope_dim = 4, v_dim = 4, window = 3 }', MOE, 'naive'],
];

/** The store with every bias and q/k norm weight set to seeded values away from 0 and 1. */
function perturbed(model: ModelGraph, seed: number): ParamStore {
  const store = ParamStore.initialise(model, seed);
  let k = 0;
  for (const p of model.params) {
    if (!/\.(q_proj|k_proj|v_proj)\.bias$|\.(q_norm|k_norm)\.weight$/.test(p.name)) continue;
    const n = p.shape.reduce((a, b) => a * b, 1);
    const base = p.name.endsWith('.bias') ? 0 : 1;
    const values = normalArray(n, 0.5, seed * 100 + k++).map((v) => base + v);
    const t = tf.tensor(values, [...p.shape]);
    store.params.get(p.name)!.assign(t);
    t.dispose();
  }
  return store;
}

/** Every position's logits of the uncached forward pass [T][V]. */
async function allLogits(model: ModelGraph, store: ParamStore, ids: readonly number[]): Promise<Float32Array> {
  const input = tf.tensor2d([...ids], [1, ids.length], 'int32');
  const out = forward(model, store, { inputIds: input }, ['logits']).get('logits')!;
  const values = (await out.data()) as Float32Array;
  tf.dispose([out, input]);
  return values;
}

async function lastLogits(model: ModelGraph, store: ParamStore, ids: readonly number[]): Promise<Float32Array> {
  const all = await allLogits(model, store, ids);
  return all.slice(all.length - 40);
}


const PROMPT = [3, 17, 5, 9, 2];

describe('cached decoding with issue 20 features', () => {
  beforeAll(useCpu);

  for (const [name, attention, ffn, mode] of CASES) {
    it(`${name}: every step's logits within 1e-4 of the uncached forward, same greedy ids`, async () => {
      const model = lower(spec(attention, ffn));
      const store = perturbed(model, 3);
      const worst = await worstCachedError(model, store, PROMPT, mode, (ids) => lastLogits(model, store, ids));
      store.dispose();
      expect(worst).toBeLessThan(1e-4);
    });
  }

  it('each feature changes the logits (the cases above are not vacuous)', async () => {
    const ids = [...PROMPT, 1, 8, 30, 21, 6];
    const pairs: [featured: string, plain: string][] = [
      ['mha { heads = 4, head_dim = 4, qkv_bias = true }', 'mha { heads = 4, head_dim = 4 }'],
      ['gqa { heads = 4, kv_heads = 2, head_dim = 4, qk_norm = head }', 'gqa { heads = 4, kv_heads = 2, head_dim = 4 }'],
      ['mha { heads = 4, head_dim = 4, qk_norm = full }', 'mha { heads = 4, head_dim = 4 }'],
      ['gqa { heads = 4, kv_heads = 2, head_dim = 4, window = 3, window_layers = [1] }', 'gqa { heads = 4, kv_heads = 2, head_dim = 4 }'],
      ['mla { heads = 2, kv_rank = 8, nope_dim = 4, rope_dim = 4, v_dim = 4, window = 3 }', 'mla { heads = 2, kv_rank = 8, nope_dim = 4, rope_dim = 4, v_dim = 4 }'],
    ];
    for (const [withFeature, without] of pairs) {
      const model = lower(spec(withFeature, MOE));
      const store = perturbed(model, 4);
      const plain = lower(spec(without, MOE));
      // the plain model's parameters are a subset of the featured one's: run it on the same store
      const a = await allLogits(model, store, ids);
      const b = await allLogits(plain, store, ids);
      expect(relativeError(a, b), withFeature).toBeGreaterThan(1e-3);
      store.dispose();
    }
    const gated = lower(spec('mha { heads = 4, head_dim = 4 }', GATED));
    const ungated = lower(spec('mha { heads = 4, head_dim = 4 }', GATED.replace('shared_gate = true', 'shared_gate = false')));
    const store = perturbed(gated, 5);
    expect(relativeError(await allLogits(gated, store, ids), await allLogits(ungated, store, ids))).toBeGreaterThan(1e-3);
    store.dispose();
  });

  it('gives each prompt of a left-padded batch the ids it gets alone under a sliding window', async () => {
    const model = lower(spec('gqa { heads = 4, kv_heads = 2, head_dim = 4, qk_norm = head, qkv_bias = true, window = 3 }', GATED));
    const store = perturbed(model, 6);
    const prompts = [[3, 17, 5, 9, 2], [11], [4, 4, 8, 30, 21, 6, 1, 39]];
    const options: GenerateOptions = { maxNewTokens: 7, sampling: GREEDY, seed: 0, eos: [] };
    const together = await generate(model, store, prompts, options);
    const alone = await Promise.all(prompts.map(async (p, i) => (await generate(model, store, [p], { ...options, firstIndex: i }))[0]!));
    expect(together.map((c) => c.ids)).toEqual(alone.map((c) => c.ids));
    store.dispose();
  });
});
