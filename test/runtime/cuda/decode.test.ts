/**
 * The cuda decoder's host side, without a GPU: what each layer caches (the tfjs latent cache's
 * size), the step plan (cached attention in place of the training attention, one logits row per
 * batch row), the packed step inputs, the attention kernel's shared memory, dropless experts, and generate()'s seam
 * (an engine's decoder gets the left-padded prompt, then one column per live row per step).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { lowerSpec } from '../../../compiler/lower/index.js';
import type { ModelGraph } from '../../../ir/types.js';
import { cacheBytes, cacheFloatsPerToken, cacheParts, DECODE_CHUNK, decodeNeeds, decodeSharedFloats, droplessGraph, LAST_COLUMN, stepInfo } from '../../../runtime/cuda/decode-plan.js';
import { lifetimes, opBuffer } from '../../../runtime/cuda/lifetimes.js';
import { planMemory } from '../../../runtime/cuda/plan.js';
import { Decoder } from '../../../runtime/infer/decoder.js';
import { generate } from '../../../runtime/infer/generate.js';
import { GREEDY } from '../../../runtime/infer/sampling.js';
import type { DecodeEngine, StepDecoder } from '../../../runtime/infer/step-decoder.js';
import { neededNodes } from '../../../runtime/model/forward.js';
import { ParamStore } from '../../../runtime/model/params.js';
import type { CudaRuntime } from '../../../runtime/cuda/runtime.js';
import { stageDecoding } from '../../../runtime/stages/decode-source.js';
import { checkText } from '../../helpers.js';
import { useCpu } from '../gradcheck.js';

function lower(text: string): ModelGraph {
  const checked = checkText(text);
  expect(checked.diagnostics).toEqual([]);
  return lowerSpec(checked, '/mem').models[0]!;
}

const MLA = lower(`model M {
  vocab = 40, dim = 16, layers = 2, context = 64
  init { std = 0.3 }
  attention mla { heads = 2, q_rank = 8, kv_rank = 12, nope_dim = 4, rope_dim = 4, v_dim = 6 }
  layers 0..1 { moe { experts = 4, hidden = 8, top_k = 2, router { score = softmax, normalize = true, capacity = 1.0 } } }
}`);

const GQA = lower(`model G {
  vocab = 30, dim = 16, layers = 3, context = 64
  init { std = 0.3 }
  attention gqa { heads = 4, kv_heads = 2 }
  layers 0..2 { ffn swiglu { hidden = 24 } }
}`);

const logitsNodes = (model: ModelGraph) => neededNodes(model, ['logits']);

describe('the cuda decode cache', () => {
  it('caches kv_rank + rope_dim floats per MLA layer and 2·kv_heads·head_dim per GQA layer', () => {
    expect(cacheParts(logitsNodes(MLA).find((n) => n.op === 'attention.mla')!)).toEqual([
      { name: 'latent', heads: 1, width: 12 },
      { name: 'rope_key', heads: 1, width: 4 },
    ]);
    expect(cacheFloatsPerToken(logitsNodes(MLA))).toBe(2 * (12 + 4));
    const d = 16 / 4;
    expect(cacheFloatsPerToken(logitsNodes(GQA))).toBe(3 * 2 * 2 * d);
    // the caches of a batch, plus one int32 validity per row and column
    expect(cacheBytes(logitsNodes(GQA), 3, 128)).toBe((3 * 2 * 2 * d + 1) * 3 * 128 * 4);
  });

  it('holds as many floats per token as the tfjs latent cache', async () => {
    await useCpu();
    for (const model of [MLA, GQA]) {
      const store = ParamStore.initialise(model, 3);
      const decoder = new Decoder(model, store, 2, 'latent');
      (await decoder.next([[1, 2, 3], [0, 4, 5]], [[true, true, true], [false, true, true]])).fill(0);
      expect(decoder.floatsPerToken(), model.name).toBe(cacheFloatsPerToken(logitsNodes(model)));
      decoder.dispose();
      store.dispose();
    }
  });
});

describe('the cuda decode step plan', () => {
  it('replaces the training attention buffers with the cached attention ones and plans one logits row per batch row', () => {
    const nodes = logitsNodes(MLA);
    const attention = nodes.findIndex((n) => n.op === 'attention.mla');
    const head = nodes.findIndex((n) => n.op === 'lm_head');
    const [B, T] = [3, 8];
    const needs = new Map(decodeNeeds(MLA, nodes, B, T, 'fp32').map((n) => [n.name, n]));
    const training = new Map(lifetimes(MLA, nodes, B, T, 'forward', ['logits'], 'fp32').map((n) => [n.name, n]));
    // the training forward keeps a [T, H, T] score scratch and B·T rows of logits
    expect(training.has(opBuffer(attention, 'scores'))).toBe(true);
    expect(needs.has(opBuffer(attention, 'scores'))).toBe(false);
    expect(needs.has(opBuffer(attention, 'lse'))).toBe(false);
    expect(training.get('logits')!.bytes).toBe(B * T * 40 * 4);
    expect(needs.get('logits')!.bytes).toBe(B * 40 * 4);
    // the absorbed query [rows, H, kv_rank] and the latent output, per step row
    expect(needs.get(opBuffer(attention, 'q_latent'))).toMatchObject({ bytes: B * T * 2 * 12 * 4, first: attention, last: attention });
    expect(needs.get(opBuffer(attention, 'qan'))!.bytes).toBe(B * T * 8 * 4);
    // the prompt's last column, gathered for the lm_head; a single-token step needs none
    expect(needs.get(opBuffer(head, LAST_COLUMN))).toMatchObject({ bytes: B * 16 * 4, first: head, last: head });
    expect(decodeNeeds(MLA, nodes, B, 1, 'fp32').some((n) => n.name === opBuffer(head, LAST_COLUMN))).toBe(false);
    // every other value and op buffer is the forward's
    const layers = nodes.flatMap((n, i) => (n.op === 'attention.mla' ? [`${i}/`] : []));
    for (const [name, need] of training) if (name !== 'logits' && !layers.some((l) => name.startsWith(l))) expect(needs.get(name), name).toEqual(need);
  });

  it('needs less memory for a single-token step than for the prompt', () => {
    const nodes = logitsNodes(GQA);
    const prompt = planMemory(decodeNeeds(GQA, nodes, 4, 32, 'fp32')).peakBytes;
    const step = planMemory(decodeNeeds(GQA, nodes, 4, 1, 'fp32')).peakBytes;
    expect(step).toBeLessThan(prompt);
    expect(step).toBeGreaterThan(0);
  });

  it('runs experts dropless, leaving the training graph as it was', () => {
    const dropless = droplessGraph(MLA);
    const experts = (m: ModelGraph) => m.nodes.filter((n) => n.op === 'moe.experts').map((n) => n.attrs.capacity);
    expect(experts(MLA)).toEqual([1, 1]);
    expect(experts(dropless)).toEqual([null, null]);
    expect(dropless.nodes.filter((n) => n.op !== 'moe.experts')).toEqual(MLA.nodes.filter((n) => n.op !== 'moe.experts'));
  });

  it('packs a step as [at, positions, real] for the kernels', () => {
    expect(Array.from(stepInfo(5, [[0, 0, 1], [2, 3, 4]], [[false, true, true], [true, true, true]]))).toEqual([5, 0, 0, 1, 2, 3, 4, 0, 1, 1, 1, 1, 1]);
    expect(Array.from(stepInfo(9, [[7], [4]], [[true], [false]]))).toEqual([9, 7, 4, 1, 0]);
  });

  it('takes the cache in chunks: the attention kernel\'s shared memory does not grow with the cache, and fits', () => {
    const source = readFileSync(new URL('../../../runtime/cuda/kernels/decode.cu', import.meta.url), 'utf8');
    expect(Number(/#define DECODE_CHUNK (\d+)/.exec(source)![1])).toBe(DECODE_CHUNK);
    for (const node of logitsNodes(MLA).filter((n) => n.op.startsWith('attention.'))) {
      // the query (kv_rank + rope_dim), one chunk of scores, the running output (kv_rank)
      expect(decodeSharedFloats(node)).toBe(12 + 4 + 12 + DECODE_CHUNK);
    }
    // MLA at DeepSeek-V3's kv_rank 512 and rope_dim 64 stays inside 48 KiB less the reductions' scratch
    expect((2 * 512 + 64 + DECODE_CHUNK) * 4).toBeLessThan(48 * 1024 - 256);
  });
});

/** A decoder whose logits favour (last id fed + 1) mod V, recording what it was fed. */
class Counting implements StepDecoder {
  readonly fed: { ids: number[][]; real: boolean[][] }[] = [];
  replays = 0;
  disposed = false;
  constructor(private readonly vocab: number) {}
  next(ids: readonly (readonly number[])[], real: readonly (readonly boolean[])[]): Promise<Float32Array> {
    this.fed.push({ ids: ids.map((r) => [...r]), real: real.map((r) => [...r]) });
    const out = new Float32Array(ids.length * this.vocab);
    ids.forEach((row, b) => (out[b * this.vocab + ((row.at(-1)! + 1) % this.vocab)] = 1));
    return Promise.resolve(out);
  }
  keepRows(): void {}
  floatsPerToken(): number {
    return 7;
  }
  reusable(): boolean {
    return false;
  }
  reset(): void {}
  dispose(): void {
    this.disposed = true;
  }
}

describe("generate()'s decoder seam", () => {
  it('decodes through the engine it is given (the cuda one on --backend cuda): left-padded prompt, then one column a row', async () => {
    await useCpu();
    const opened: [number, number, string][] = [];
    const decoders: Counting[] = [];
    const engine: DecodeEngine = {
      open(rows, capacity, mlaCache) {
        opened.push([rows, capacity, mlaCache]);
        decoders.push(new Counting(30));
        return decoders.at(-1)!;
      },
    };
    const out = await generate(GQA, engine, [[5], [7, 8, 9]], { maxNewTokens: 3, sampling: GREEDY, seed: 1, eos: [], pad: 2 });
    expect(out.map((c) => c.ids)).toEqual([[6, 7, 8], [10, 11, 12]]);
    expect(opened).toEqual([[2, 64, 'latent']]);
    const [decoder] = decoders;
    expect(decoder!.fed[0]).toEqual({ ids: [[2, 2, 5], [7, 8, 9]], real: [[false, false, true], [true, true, true]] });
    expect(decoder!.fed.slice(1).map((f) => f.ids)).toEqual([[[6], [10]], [[7], [11]]]);
    expect(decoder!.disposed).toBe(true);
  });
});

describe('the decoder a stage generates with', () => {
  it('is the tfjs weights without cuda, and the cuda decoder (weights copied to the device) under --backend cuda', async () => {
    await useCpu();
    const store = ParamStore.initialise(GQA, 3);
    const tfjs = await stageDecoding({}, GQA, store);
    expect(tfjs.source).toBe(store);
    tfjs.dispose();
    // a runtime whose every driver call fails: reaching it proves the cuda decoder is being built
    const driver = new Proxy({}, { get: () => () => { throw new Error('the device was asked for memory'); } });
    // a fake: only the driver is reached before the failure (CudaRuntime's other members are never read)
    const fake = { driver, lt: {}, kernel: () => undefined, description: 'fake' } as unknown as CudaRuntime;
    await expect(stageDecoding({ cuda: fake }, GQA, store)).rejects.toThrow('the device was asked for memory');
    store.dispose();
  });
});
