/**
 * Choosing the next token from one row of logits, on the host: repetition penalty, then greedy or
 * temperature → top-k → top-p → min-p → a draw, the order HF transformers' `generate` applies its
 * processors and warpers in. Each sequence owns its random stream (see `sequenceRandom`), so a
 * prompt's completions do not depend on which other prompts share its batch.
 */
import { RuntimeError } from '../errors.js';
import { mulberry32, tensorSeed } from '../random.js';

export interface SamplingOptions {
  /** 0 = greedy (argmax); otherwise logits are divided by it */
  readonly temperature: number;
  /** keep the k most likely tokens; 0 = off */
  readonly topK: number;
  /** keep the smallest set of most likely tokens whose probability reaches p; 1 = off */
  readonly topP: number;
  /** drop tokens less likely than min_p × the most likely one; 0 = off */
  readonly minP: number;
  /** CTRL's penalty on every token already in the prompt or the completion; 1 = off */
  readonly repetitionPenalty: number;
}

export const GREEDY: SamplingOptions = { temperature: 0, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1 };

/** Refuses settings that have no meaning, naming the setting. */
export function checkSampling(options: SamplingOptions): void {
  const { temperature, topK, topP, minP, repetitionPenalty } = options;
  const problem =
    !(temperature >= 0) || !Number.isFinite(temperature) ? `temperature must be a number >= 0, found ${temperature}`
    : !Number.isInteger(topK) || topK < 0 ? `top_k must be an integer >= 0, found ${topK}`
    : !(topP > 0 && topP <= 1) ? `top_p must be in (0, 1], found ${topP}`
    : !(minP >= 0 && minP < 1) ? `min_p must be in [0, 1), found ${minP}`
    : !(repetitionPenalty > 0) || !Number.isFinite(repetitionPenalty) ? `repetition_penalty must be a number > 0, found ${repetitionPenalty}`
    : undefined;
  if (problem) throw new RuntimeError(problem);
}

/** The random stream of the `index`-th sequence of a request made with `seed`. */
export function sequenceRandom(seed: number, index: number): () => number {
  return mulberry32(tensorSeed(seed, `sequence ${index}`));
}

/**
 * CTRL's repetition penalty as HF applies it: a seen token's logit is divided by the penalty when
 * positive and multiplied by it when negative (so a penalty > 1 always makes it less likely).
 */
export function penalise(logits: Float32Array, seen: ReadonlySet<number>, penalty: number): Float32Array {
  if (penalty === 1 || seen.size === 0) return logits;
  const out = Float32Array.from(logits);
  for (const id of seen) {
    const v = out[id];
    if (v !== undefined) out[id] = v > 0 ? v / penalty : v * penalty;
  }
  return out;
}

/** The index of the largest value; the lowest index wins a tie (torch.argmax's choice on CPU). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/**
 * The candidates left after temperature, top-k, top-p and min-p, with their renormalised
 * probabilities, most likely first. Exposed for tests; `pickToken` draws from it.
 */
export function candidates(logits: Float32Array, options: SamplingOptions): { ids: number[]; probs: number[] } {
  const { temperature, topK, topP, minP } = options;
  const order = Array.from(logits.keys()).filter((i) => logits[i] !== -Infinity);
  order.sort((a, b) => logits[b]! - logits[a]! || a - b);
  let kept = topK > 0 ? order.slice(0, topK) : order;
  const top = logits[kept[0]!]!;
  // softmax at the temperature, in float64, relative to the largest logit
  const weights = kept.map((i) => Math.exp((logits[i]! - top) / temperature));
  let total = weights.reduce((a, b) => a + b, 0);
  let probs = weights.map((w) => w / total);
  if (topP < 1) {
    // the smallest prefix whose mass reaches top_p (always at least one token)
    let mass = 0;
    let n = 0;
    while (n < probs.length && mass < topP) mass += probs[n++]!;
    kept = kept.slice(0, n);
    probs = probs.slice(0, n);
  }
  if (minP > 0) {
    const floor = minP * probs[0]!;
    const n = probs.filter((p) => p >= floor).length;
    kept = kept.slice(0, n);
    probs = probs.slice(0, n);
  }
  total = probs.reduce((a, b) => a + b, 0);
  return { ids: kept, probs: probs.map((p) => p / total) };
}

/** The next token of one sequence: `seen` holds its prompt and completion ids so far. */
export function pickToken(logits: Float32Array, seen: ReadonlySet<number>, options: SamplingOptions, random: () => number): number {
  const scored = penalise(logits, seen, options.repetitionPenalty);
  if (options.temperature === 0) return argmax(scored);
  const { ids, probs } = candidates(scored, options);
  let u = random();
  for (let i = 0; i < ids.length; i++) {
    u -= probs[i]!;
    if (u < 0) return ids[i]!;
  }
  return ids[ids.length - 1]!;
}

/** log softmax(logits / temperature)[id], in float64. */
export function logProbability(logits: Float32Array, id: number, temperature: number): number {
  let top = -Infinity;
  for (const v of logits) if (v > top) top = v;
  let total = 0;
  for (const v of logits) total += Math.exp((v - top) / temperature);
  return (logits[id]! - top) / temperature - Math.log(total);
}
