/**
 * Cached generation against the training forward pass (no cache): for MLA in both cache modes and
 * for GQA, every step's logits agree within 1e-4 relative and greedy ids are equal; left-padded
 * batches give each prompt what it gets alone; rows stop independently; nothing leaks; the latent
 * cache holds kv_rank + rope_dim floats per token per layer.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { lowerSpec } from '../../../compiler/lower/index.js';
import type { ModelGraph } from '../../../ir/types.js';
import { generate, type GenerateOptions, type GenerateStats } from '../../../runtime/infer/generate.js';
import { GREEDY } from '../../../runtime/infer/sampling.js';
import { forward } from '../../../runtime/model/forward.js';
import { ParamStore } from '../../../runtime/model/params.js';
import { tf } from '../../../runtime/tf.js';
import { checkText } from '../../helpers.js';
import { useCpu } from '../gradcheck.js';
import { worstCachedError } from './cached-decode.js';
import { MICRO } from '../micro-spec.js';

function lower(text: string): ModelGraph {
  const checked = checkText(text);
  expect(checked.diagnostics).toEqual([]);
  return lowerSpec(checked, '/mem').models[0]!;
}

// grouped-query attention (2 kv heads for 4 heads) and a capacity factor the decoder must ignore
const GQA = `model Gqa {
  vocab = 40, dim = 16, layers = 2, context = 64
  init { std = 0.3 }
  rope { theta = 500 }
  attention gqa { heads = 4, kv_heads = 2, head_dim = 4 }
  layers 0..1 { moe { experts = 4, hidden = 8, top_k = 2, router { score = softmax, capacity = 1.0 } } }
}`;

// MLA without query compression, v wider than nope
const MLA_PLAIN = `model MlaPlain {
  vocab = 40, dim = 16, layers = 2, context = 64
  init { std = 0.3 }
  rope { theta = 10000 }
  attention mla { heads = 2, kv_rank = 8, nope_dim = 4, rope_dim = 4, v_dim = 6 }
  layers 0..1 { ffn swiglu { hidden = 24 } }
}`;

const PROMPTS = [[3, 17, 5, 9, 2], [11], [4, 4, 8, 30, 21, 6, 1, 39]];

/** The graph with dropless experts: what decoding runs, whatever the training capacity. */
function dropless(model: ModelGraph): ModelGraph {
  return { ...model, nodes: model.nodes.map((n) => (n.op === 'moe.experts' ? { ...n, attrs: { ...n.attrs, capacity: null } } : n)) };
}

/** Last-position logits of the full (uncached) forward pass. */
async function lastLogits(model: ModelGraph, store: ParamStore, ids: readonly number[]): Promise<Float32Array> {
  const input = tf.tensor2d([...ids], [1, ids.length], 'int32');
  const out = forward(dropless(model), store, { inputIds: input }, ['logits']).get('logits')!;
  const values = (await out.data()) as Float32Array;
  out.dispose();
  input.dispose();
  return values.slice(values.length - (out.shape[2] as number));
}



const greedy = (maxNewTokens: number, extra: Partial<GenerateOptions> = {}): GenerateOptions => ({ maxNewTokens, sampling: GREEDY, seed: 0, eos: [], ...extra });

const CASES: [string, string, 'latent' | 'naive'][] = [
  ['MLA, q compression, YaRN, latent cache', MICRO, 'latent'],
  ['MLA, q compression, YaRN, naive cache', MICRO, 'naive'],
  ['MLA without q compression, latent cache', MLA_PLAIN, 'latent'],
  ['GQA with a capacity factor', GQA, 'latent'],
];

describe('cached decoding', () => {
  beforeAll(useCpu);

  for (const [name, spec, mode] of CASES) {
    it(`${name}: every step's logits within 1e-4 of the uncached forward, same greedy ids`, async () => {
      const model = lower(spec);
      const store = ParamStore.initialise(model, 3);
      const prompt = PROMPTS[0]!;
      const worst = await worstCachedError(model, store, prompt, mode, (ids) => lastLogits(model, store, ids));
      store.dispose();
      // measured on the cpu backend: 2.1e-7, 2.5e-7, 2.3e-7 (MLA cases), 0 (GQA: the same dot products)
      expect(worst).toBeLessThan(1e-4);
    });
  }

  it('gives each prompt of a left-padded batch the ids it gets alone (greedy and sampled)', async () => {
    const model = lower(MICRO);
    const store = ParamStore.initialise(model, 5);
    for (const sampling of [GREEDY, { temperature: 1, topK: 0, topP: 0.9, minP: 0.05, repetitionPenalty: 1.2 }]) {
      const options: GenerateOptions = { maxNewTokens: 7, sampling, seed: 11, eos: [] };
      const together = await generate(model, store, PROMPTS, options);
      const alone = await Promise.all(PROMPTS.map(async (p, i) => (await generate(model, store, [p], { ...options, firstIndex: i }))[0]!));
      expect(together.map((c) => c.ids)).toEqual(alone.map((c) => c.ids));
      expect(together.every((c) => c.ids.length === 7 && c.finish === 'length')).toBe(true);
    }
    store.dispose();
  });

  it('stops each row at its own end-of-sequence id and leaks no tensor', async () => {
    const model = lower(MICRO);
    const store = ParamStore.initialise(model, 5);
    const free = await generate(model, store, PROMPTS, greedy(6));
    // make the third new token of prompt 0 the end-of-sequence id: that row stops there, the others run on
    const stopper = free[0]!.ids[2]!;
    const before = tf.memory().numTensors;
    const stopped = await generate(model, store, PROMPTS, greedy(6, { eos: [stopper] }));
    expect(tf.memory().numTensors).toBe(before);
    expect(stopped[0]!.finish).toBe('eos');
    expect(stopped[0]!.ids).toEqual(free[0]!.ids.slice(0, free[0]!.ids.indexOf(stopper) + 1));
    stopped.forEach((c, i) => {
      const cut = free[i]!.ids.indexOf(stopper);
      expect(c.ids).toEqual(cut < 0 ? free[i]!.ids : free[i]!.ids.slice(0, cut + 1));
    });
    store.dispose();
  });

  it('stops at a stop string', async () => {
    const model = lower(MICRO);
    const store = ParamStore.initialise(model, 5);
    const free = await generate(model, store, [PROMPTS[0]!], greedy(6));
    const decode = (ids: readonly number[]): string => ids.map((id) => `<${id}>`).join('');
    const stop = { strings: [`<${free[0]!.ids[1]}>`], decode };
    const [stopped] = await generate(model, store, [PROMPTS[0]!], greedy(6, { stop }));
    expect(stopped!.finish).toBe('stop');
    expect(stopped!.ids).toEqual(free[0]!.ids.slice(0, free[0]!.ids.indexOf(free[0]!.ids[1]!) + 1));
    store.dispose();
  });

  it('caches kv_rank + rope_dim floats per token per MLA layer, against H·(nope + rope + v) naive', async () => {
    const model = lower(MICRO);
    const store = ParamStore.initialise(model, 5);
    const floats: Record<string, number> = {};
    for (const mode of ['latent', 'naive'] as const) {
      const stats: GenerateStats = { prefillTokens: 0, decodeTokens: 0, prefillMs: 0, decodeMs: 0, cacheFloatsPerToken: 0 };
      await generate(model, store, PROMPTS, greedy(2, { mlaCache: mode }), stats);
      floats[mode] = stats.cacheFloatsPerToken;
      expect(stats.prefillTokens).toBe(14);
      expect(stats.decodeTokens).toBe(3);
    }
    // 2 layers: latent (8 + 4) each, naive 2 heads · (4 + 4 + 4) each
    expect(floats).toEqual({ latent: 2 * 12, naive: 2 * 2 * 12 });
    store.dispose();
  });

  it('refuses prompts that do not fit, naming the prompt', async () => {
    const model = lower(MICRO);
    const store = ParamStore.initialise(model, 5);
    await expect(generate(model, store, [[1, 2], []], greedy(2))).rejects.toThrow(/prompt 1 is empty/);
    await expect(generate(model, store, [[1, 40]], greedy(2))).rejects.toThrow(/prompt 0: token id 40 is outside the vocabulary 0..39/);
    await expect(generate(model, store, [[1, 2]], greedy(63))).rejects.toThrow(/2 tokens \+ 63 new exceed the model context 64/);
    store.dispose();
  });
});
