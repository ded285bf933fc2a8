/**
 * Batched generation: prompts of different lengths left-padded into one batch, one prefill, then one
 * cached step per new token for every unfinished row; a row stops at an end-of-sequence id, a stop
 * string or its token budget, and leaves the batch (its cache rows are dropped). One host read per
 * step (the last column's logits, for sampling on the host).
 */
import type { ModelGraph } from '../../ir/types.js';
import { RuntimeError } from '../errors.js';
import type { Weights } from '../model/forward.js';
import type { MlaCacheMode } from './cache.js';
import { Decoder } from './decoder.js';
import { isDecodeEngine, type DecodeEngine, type StepDecoder } from './step-decoder.js';
import { checkSampling, logProbability, pickToken, sequenceRandom, type SamplingOptions } from './sampling.js';

export type FinishReason = 'eos' | 'stop' | 'length';

export interface Completion {
  /** the new ids only (an end-of-sequence id that stopped the row is included) */
  readonly ids: number[];
  /**
   * log π(id | prefix) of each new id under the policy at the sampling temperature (1 when greedy),
   * over the whole vocabulary, before top-k/top-p/min-p and the vocab limit: the "old"
   * log-probabilities GRPO's ratio starts from, the same distribution the trainer differentiates
   */
  readonly logprobs: number[];
  readonly finish: FinishReason;
}

export interface GenerateOptions {
  readonly maxNewTokens: number;
  readonly sampling: SamplingOptions;
  /** with the prompt's index, picks each sequence's random stream (results do not depend on batching) */
  readonly seed: number;
  /** ids that end a sequence */
  readonly eos: readonly number[];
  /** strings that end a sequence once its decoded completion contains one */
  readonly stop?: { readonly strings: readonly string[]; readonly decode: (ids: readonly number[]) => string };
  /** the request index of prompts[0], when one request is split across calls (random streams) */
  readonly firstIndex?: number;
  /** prompts per batch (default: all at once) */
  readonly batchSize?: number;
  readonly mlaCache?: MlaCacheMode;
  /** called with (prompt index, new id) as each token is chosen */
  readonly onToken?: (index: number, id: number) => void;
  /** ids ≥ this are never chosen: a model's vocab may be larger than its tokenizer (default: all) */
  readonly vocabLimit?: number;
  /** the padding id fed at left-pad positions (masked out; any valid id) */
  readonly pad?: number;
}

/** Statistics of a call, for benchmarks and progress. */
export interface GenerateStats {
  prefillTokens: number;
  decodeTokens: number;
  prefillMs: number;
  decodeMs: number;
  /** floats per cached token per sequence, over all layers */
  cacheFloatsPerToken: number;
  /** decode steps that replayed a captured GPU graph (webgpu; 0 elsewhere) */
  graphReplays?: number;
}

export function vocabOf(model: ModelGraph): number {
  return model.params.find((p) => p.name === 'model.embed_tokens.weight')?.shape[0] ?? 0;
}

function checkPrompts(model: ModelGraph, prompts: readonly (readonly number[])[], maxNewTokens: number): void {
  const vocab = vocabOf(model);
  const context = typeof model.config.context === 'number' ? model.config.context : Infinity;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) throw new RuntimeError(`max_new_tokens must be an integer >= 1, found ${maxNewTokens}`);
  prompts.forEach((prompt, i) => {
    if (prompt.length === 0) throw new RuntimeError(`prompt ${i} is empty`, 'give at least one token (e.g. the tokenizer\'s end-of-sequence id)');
    const bad = prompt.find((id) => !Number.isInteger(id) || id < 0 || id >= vocab);
    if (bad !== undefined) throw new RuntimeError(`prompt ${i}: token id ${bad} is outside the vocabulary 0..${vocab - 1}`);
    if (prompt.length + maxNewTokens > context) {
      throw new RuntimeError(`prompt ${i}: ${prompt.length} tokens + ${maxNewTokens} new exceed the model context ${context}`, 'shorten the prompt or lower max_new_tokens');
    }
  });
}

/**
 * What decodes: the tfjs weights (the tfjs cached decoder, decoder.ts) or an engine of another
 * executor (the cuda decoder, runtime/cuda/decoder.ts), with the same contract (step-decoder.ts).
 */
export type DecodeSource = Weights | DecodeEngine;

function engineOf(model: ModelGraph, source: DecodeSource): DecodeEngine {
  if (isDecodeEngine(source)) return source;
  return { open: (rows, capacity, mlaCache) => new Decoder(model, source, rows, mlaCache, capacity) };
}

/** Completions for every prompt, in prompt order. */
export async function generate(model: ModelGraph, weights: DecodeSource, prompts: readonly (readonly number[])[], options: GenerateOptions, stats?: GenerateStats): Promise<Completion[]> {
  checkSampling(options.sampling);
  checkPrompts(model, prompts, options.maxNewTokens);
  const size = options.batchSize ?? prompts.length;
  if (!Number.isInteger(size) || size < 1) throw new RuntimeError(`the batch size must be an integer >= 1, found ${size}`);
  const out: Completion[] = [];
  for (let start = 0; start < prompts.length; start += size) {
    const indices = Array.from({ length: Math.min(size, prompts.length - start) }, (_, i) => start + i);
    const streams = indices.map((i) => i + (options.firstIndex ?? 0));
    out.push(...(await generateBatch(model, weights, indices.map((i) => prompts[i]!), streams, options, stats)));
  }
  return out;
}

/** Cache lengths are rounded up to a multiple of this. */
const CAPACITY_STEP = 64;

/**
 * The last graph-mode decoder of each weights object (or engine), kept for the next generation of
 * the same shapes: the capture (a plain tfjs step, ~0.2 s for r1-tiny on an H100) is then paid once
 * per shapes, not per generation, as long as the weights stay unchanged (Decoder.reusable). One per
 * weights object: a new key disposes the kept one.
 */
const kept = new WeakMap<DecodeSource, { readonly key: string; readonly decoder: StepDecoder }>();

function keptDecoder(weights: DecodeSource, key: string): StepDecoder | null {
  const entry = kept.get(weights);
  if (!entry) return null;
  kept.delete(weights);
  if (entry.key === key && entry.decoder.reusable()) {
    entry.decoder.reset();
    return entry.decoder;
  }
  entry.decoder.dispose();
  return null;
}

function keepDecoder(weights: DecodeSource, key: string, decoder: StepDecoder): void {
  if (!decoder.reusable()) {
    decoder.dispose();
    return;
  }
  kept.get(weights)?.decoder.dispose();
  kept.set(weights, { key, decoder });
}

/** Disposes the decoder kept for `weights`, if any (its caches and graph hold GPU memory). */
export function releaseDecoders(weights: DecodeSource): void {
  kept.get(weights)?.decoder.dispose();
  kept.delete(weights);
}

interface Row {
  /** index of the prompt in the request */
  readonly index: number;
  readonly seen: Set<number>;
  readonly random: () => number;
  readonly ids: number[];
  readonly logprobs: number[];
  finish?: FinishReason;
}

async function generateBatch(
  model: ModelGraph,
  weights: DecodeSource,
  prompts: readonly (readonly number[])[],
  indices: readonly number[],
  options: GenerateOptions,
  stats?: GenerateStats,
): Promise<Completion[]> {
  const rows: Row[] = prompts.map((p, i) => ({ index: indices[i]!, seen: new Set(p), random: sequenceRandom(options.seed, indices[i]!), ids: [], logprobs: [] }));
  const width = Math.max(...prompts.map((p) => p.length));
  // the cache's full length (on webgpu, decode steps then replay a captured GPU graph), rounded up so
  // generations of similar lengths share a kept decoder
  const capacity = Math.ceil((width + options.maxNewTokens) / CAPACITY_STEP) * CAPACITY_STEP;
  const key = JSON.stringify([model.name, prompts.length, capacity, options.mlaCache ?? 'latent']);
  const decoder = keptDecoder(weights, key) ?? engineOf(model, weights).open(prompts.length, capacity, options.mlaCache ?? 'latent');
  const eos = new Set(options.eos);
  const pad = options.pad ?? 0;
  try {
    const padded = prompts.map((p) => [...new Array<number>(width - p.length).fill(pad), ...p]);
    const real = prompts.map((p) => padded[0]!.map((_, t) => t >= width - p.length));
    let started = performance.now();
    let logits = decoder.next(padded, real);
    if (stats) {
      stats.prefillTokens += prompts.reduce((n, p) => n + p.length, 0);
      stats.cacheFloatsPerToken = decoder.floatsPerToken();
    }
    let active = rows;
    for (;;) {
      const values = await logits;
      const vocab = values.length / active.length;
      if (stats) {
        const elapsed = performance.now() - started;
        if (active === rows && rows.every((r) => r.ids.length === 0)) stats.prefillMs += elapsed;
        else stats.decodeMs += elapsed;
      }
      const next = active.map((row, b) => {
        const full = values.subarray(b * vocab, (b + 1) * vocab);
        const scores = full.subarray(0, Math.min(vocab, options.vocabLimit ?? vocab));
        if (!scores.every(Number.isFinite)) throw new RuntimeError(`the logits of prompt ${row.index} are NaN or infinite after ${row.ids.length} new tokens`, 'the checkpoint may have diverged');
        const id = pickToken(scores, row.seen, options.sampling, row.random);
        row.ids.push(id);
        row.logprobs.push(logProbability(full, id, options.sampling.temperature || 1));
        row.seen.add(id);
        options.onToken?.(row.index, id);
        row.finish = finishOf(row, id, eos, options);
        return id;
      });
      const survivors = active.map((row, b) => (row.finish ? -1 : b)).filter((b) => b >= 0);
      if (survivors.length === 0) break;
      if (survivors.length < active.length) decoder.keepRows(survivors);
      active = survivors.map((b) => active[b]!);
      started = performance.now();
      logits = decoder.next(
        survivors.map((b) => [next[b]!]),
        survivors.map(() => [true]),
      );
      if (stats) stats.decodeTokens += survivors.length;
    }
  } finally {
    if (stats) stats.graphReplays = (stats.graphReplays ?? 0) + decoder.replays;
    keepDecoder(weights, key, decoder);
  }
  return rows.map((r) => ({ ids: r.ids, logprobs: r.logprobs, finish: r.finish ?? 'length' }));
}

function finishOf(row: Row, id: number, eos: ReadonlySet<number>, options: GenerateOptions): FinishReason | undefined {
  if (eos.has(id)) return 'eos';
  if (options.stop && options.stop.strings.length > 0) {
    const text = options.stop.decode(row.ids);
    if (options.stop.strings.some((s) => text.includes(s))) return 'stop';
  }
  return row.ids.length >= options.maxNewTokens ? 'length' : undefined;
}
