/** Rotary embeddings (specs/ir.md §3.2): frequencies, YaRN, tables, both layouts, HF equivalence. */
import { beforeAll, describe, expect, it } from 'vitest';
import { applyRotary, parseRope, rope, ropeFrequencies, ropeTables, type RopeConfig } from '../../../runtime/ops/rope.js';
import { tf } from '../../../runtime/tf.js';
import { useCpu } from '../gradcheck.js';
import { expectClose, expectGradient, expectNoLeak, invFreqRef, nest, ropeRef, sample, type RopeRef } from './reference.js';

beforeAll(async () => {
  await useCpu();
});

const YARN_V3: RopeRef = {
  theta: 10000,
  scaling: { kind: 'yarn', factor: 40, original_context: 4096, beta_fast: 32, beta_slow: 1, mscale: 1, mscale_all_dim: 1 },
};

const config = (r: RopeRef, interleaved: boolean): RopeConfig => parseRope({ theta: r.theta, interleaved, scaling: r.scaling });

/** Relative closeness, for frequencies spanning many orders of magnitude. */
function expectRelative(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i]! - expected[i]!) / Math.abs(expected[i]!)).toBeLessThan(tol);
}

describe('inverse frequencies', () => {
  it('YaRN (factor 40, original 4096, beta 32/1, mscale 1/1, d 64) matches the HF formula, af = 1', () => {
    const { inv, attentionFactor } = ropeFrequencies(config(YARN_V3, true), 64);
    const ref = invFreqRef(YARN_V3, 64);
    expectRelative(inv, ref.inv, 1e-5);
    expect(attentionFactor).toBe(1);
    // the correction range is [10, 23]: faster dimensions keep θ^(−2i/d), slower ones are divided by 40
    const base = (i: number): number => Math.pow(10000, -(2 * i) / 64);
    for (let i = 0; i <= 10; i++) expect(inv[i]! / base(i)).toBeCloseTo(1, 6);
    for (let i = 23; i < 32; i++) expect(inv[i]! / base(i)).toBeCloseTo(1 / 40, 6);
  });

  it('YaRN af: m(s, mscale)/m(s, mscale_all_dim), or m(s, 1) when either is 0', () => {
    const m = (a: number): number => 0.1 * a * Math.log(40) + 1;
    const with_ = (mscale: number, mscaleAll: number): number =>
      ropeFrequencies(config({ theta: 10000, scaling: { ...YARN_V3.scaling, mscale, mscale_all_dim: mscaleAll } as RopeRef['scaling'] }, true), 64).attentionFactor;
    expect(with_(1, 0.707)).toBeCloseTo(m(1) / m(0.707), 12);
    expect(with_(1, 0)).toBeCloseTo(m(1), 12);
    expect(with_(0, 1)).toBeCloseTo(m(1), 12);
  });

  it('default and linear', () => {
    const none: RopeRef = { theta: 500000, scaling: { kind: 'none' } };
    const linear: RopeRef = { theta: 10000, scaling: { kind: 'linear', factor: 8 } };
    expectRelative(ropeFrequencies(config(none, false), 16).inv, invFreqRef(none, 16).inv, 1e-6);
    expectRelative(ropeFrequencies(config(linear, false), 16).inv, invFreqRef(linear, 16).inv, 1e-6);
  });

  it('rejects bad rope attributes', () => {
    expect(() => parseRope({ theta: 10000, interleaved: true, scaling: { kind: 'ntk' } })).toThrow(/kind/);
    expect(() => parseRope({ theta: 0, interleaved: true, scaling: { kind: 'none' } })).toThrow(/theta/);
    expect(() => parseRope({ theta: 10000, scaling: { kind: 'none' } })).toThrow(/interleaved/);
    expect(() => parseRope({ theta: 10000, interleaved: false, scaling: { kind: 'yarn', factor: 4 } })).toThrow(/original_context/);
    expect(() => ropeFrequencies(config({ theta: 10000, scaling: { kind: 'none' } }, false), 5)).toThrow(/even/);
  });
});

describe('rotation', () => {
  const [B, H, T, d] = [2, 2, 5, 8];
  // a YaRN whose correction range falls inside d = 8 and whose af ≠ 1, so both parts are exercised
  const yarnSmall: RopeRef = {
    theta: 10000,
    scaling: { kind: 'yarn', factor: 4, original_context: 64, beta_fast: 4, beta_slow: 1, mscale: 1, mscale_all_dim: 0.5 },
  };
  const cases: [string, RopeRef][] = [
    ['no scaling', { theta: 10000, scaling: { kind: 'none' } }],
    ['linear', { theta: 100, scaling: { kind: 'linear', factor: 2 } }],
    ['yarn', yarnSmall],
  ];

  for (const [name, ref] of cases) {
    for (const interleaved of [false, true]) {
      it(`${name}, ${interleaved ? 'interleaved pairs' : 'halves'}: matches the §3.2 formula per position`, async () => {
        const x = sample([B, H, T, d], 1);
        const y = await rope(x.t, config(ref, interleaved)).data();
        const rows = nest(x.a, [B * H, T, d]) as number[][][];
        expectClose(y, rows.flatMap((r) => r.flatMap((v, t) => ropeRef(v, t, ref, interleaved))));
      });
    }
  }

  it('yarn tables carry af on cos and sin, laid out like the rotated vector', async () => {
    const { inv, af } = invFreqRef(yarnSmall, d);
    expect(af).not.toBeCloseTo(1, 3);
    for (const interleaved of [false, true]) {
      const { cos, sin } = ropeTables(config(yarnSmall, interleaved), d, 3);
      // channel j rotates by angle i = j >> 1 (pairs) or j mod d/2 (halves)
      const expected = (f: (a: number) => number): number[] =>
        [0, 1, 2].flatMap((t) => Array.from({ length: d }, (_, j) => af * f(t * inv[interleaved ? j >> 1 : j % (d / 2)]!)));
      expectClose(await cos.data(), expected(Math.cos));
      expectClose(await sin.data(), expected(Math.sin));
    }
  });

  it('an offset gives the tables of later positions (and the cache grows past earlier requests)', async () => {
    const c = config(cases[0]![1], false);
    const small = ropeTables(c, d, 2);
    const later = ropeTables(c, d, 3, 40);
    const whole = ropeTables(c, d, 43);
    expectClose(await small.cos.data(), (await whole.cos.data()).slice(0, 2 * d), 0);
    expectClose(await later.sin.data(), (await whole.sin.data()).slice(40 * d), 0);
  });

  it('interleaved equals HF: de-interleave (2i → i, 2i+1 → i + d/2), then rotate halves', async () => {
    const x = sample([B, H, T, d], 2);
    const perm = Array.from({ length: d }, (_, j) => (j < d / 2 ? 2 * j : 2 * (j - d / 2) + 1));
    const deinterleave = (t: tf.Tensor): tf.Tensor => tf.gather(t, tf.tensor1d(perm, 'int32'), 3);
    const ours = deinterleave(rope(x.t, config(yarnSmall, true)));
    const hf = rope(deinterleave(x.t), config(yarnSmall, false));
    expectClose(await ours.data(), await hf.data(), 1e-6);
  });

  it('gradient w.r.t. x, both layouts: relative error < 1e-3', async () => {
    for (const interleaved of [false, true]) {
      const c = config(yarnSmall, interleaved);
      await expectGradient(`rope interleaved=${interleaved}`, ([x]) => [rope(x!, c)], [sample([B, H, T, d], 3).t], 1e-3);
    }
  });

  it('leaks no tensors inside tf.tidy', () => {
    const x = sample([B, H, T, d], 4).t;
    for (const interleaved of [false, true]) {
      expectNoLeak(() => [rope(x, config(yarnSmall, interleaved))]);
      expectNoLeak(() => [applyRotary(x, ropeTables(config(yarnSmall, interleaved), d, T))]);
    }
  });
});
