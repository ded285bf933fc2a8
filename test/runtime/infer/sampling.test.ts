/**
 * Sampling on the host: each filter keeps exactly the tokens its definition keeps, the repetition
 * penalty follows HF's sign rule, draws follow the filtered distribution, and a seed reproduces them.
 */
import { describe, expect, it } from 'vitest';
import { candidates, checkSampling, GREEDY, logProbability, penalise, pickToken, sequenceRandom, type SamplingOptions } from '../../../runtime/infer/sampling.js';

const PLAIN: SamplingOptions = { temperature: 1, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1 };
// probabilities 0.5, 0.25, 0.125, 0.0625, 0.0625 at temperature 1
const LOGITS = Float32Array.from([Math.log(0.0625), Math.log(0.5), Math.log(0.125), Math.log(0.25), Math.log(0.0625)]);

describe('sampling', () => {
  it('is greedy at temperature 0, the lowest index winning a tie', () => {
    expect(pickToken(LOGITS, new Set(), GREEDY, () => 0.99)).toBe(1);
    expect(pickToken(Float32Array.from([1, 3, 3]), new Set(), GREEDY, () => 0)).toBe(1);
  });

  it('keeps the k most likely with top-k, renormalised', () => {
    const { ids, probs } = candidates(LOGITS, { ...PLAIN, topK: 2 });
    expect(ids).toEqual([1, 3]);
    expect(probs[0]).toBeCloseTo(2 / 3, 6);
  });

  it('keeps the smallest prefix reaching top-p', () => {
    expect(candidates(LOGITS, { ...PLAIN, topP: 0.75 }).ids).toEqual([1, 3]);
    expect(candidates(LOGITS, { ...PLAIN, topP: 0.76 }).ids).toEqual([1, 3, 2]);
    expect(candidates(LOGITS, { ...PLAIN, topP: 0.01 }).ids).toEqual([1]);
  });

  it('drops tokens below min-p times the most likely', () => {
    expect(candidates(LOGITS, { ...PLAIN, minP: 0.24 }).ids).toEqual([1, 3, 2]);
    expect(candidates(LOGITS, { ...PLAIN, minP: 0.26 }).ids).toEqual([1, 3]);
  });

  it('sharpens with a low temperature', () => {
    const cold = candidates(LOGITS, { ...PLAIN, temperature: 0.5 }).probs;
    // p ∝ p₀²: 0.25 / (0.25 + 0.0625 + 0.015625 + 2·0.00390625)
    expect(cold[0]).toBeCloseTo(0.25 / 0.3359375, 6);
  });

  it('divides positive and multiplies negative logits of seen tokens (HF CTRL penalty)', () => {
    expect([...penalise(Float32Array.from([2, -2, 1]), new Set([0, 1]), 2)]).toEqual([1, -4, 1]);
  });

  it('draws with the filtered distribution\'s frequencies, reproducibly from a seed', () => {
    const counts = new Array<number>(5).fill(0);
    const random = sequenceRandom(7, 0);
    const draws = 20000;
    const sequence: number[] = [];
    for (let i = 0; i < draws; i++) {
      const id = pickToken(LOGITS, new Set(), PLAIN, random);
      counts[id]!++;
      if (i < 50) sequence.push(id);
    }
    [0.0625, 0.5, 0.125, 0.25, 0.0625].forEach((p, id) => expect(Math.abs(counts[id]! / draws - p)).toBeLessThan(0.015));
    const again = sequenceRandom(7, 0);
    expect(sequence).toEqual(Array.from({ length: 50 }, () => pickToken(LOGITS, new Set(), PLAIN, again)));
    const other = sequenceRandom(7, 1);
    expect(Array.from({ length: 50 }, () => pickToken(LOGITS, new Set(), PLAIN, other))).not.toEqual(sequence);
  });

  it('gives the log-probability of a token under the whole distribution at a temperature', () => {
    expect(logProbability(LOGITS, 1, 1)).toBeCloseTo(Math.log(0.5), 6);
    expect(logProbability(LOGITS, 3, 0.5)).toBeCloseTo(Math.log(0.0625 / 0.3359375), 6);
  });

  it('refuses meaningless settings, naming them', () => {
    expect(() => checkSampling({ ...PLAIN, topP: 0 })).toThrow(/top_p must be in \(0, 1\], found 0/);
    expect(() => checkSampling({ ...PLAIN, temperature: -1 })).toThrow(/temperature must be a number >= 0/);
    expect(() => checkSampling({ ...PLAIN, topK: 1.5 })).toThrow(/top_k must be an integer/);
    expect(() => checkSampling({ ...PLAIN, repetitionPenalty: 0 })).toThrow(/repetition_penalty/);
    expect(() => checkSampling({ ...PLAIN, minP: 1 })).toThrow(/min_p/);
  });
});
