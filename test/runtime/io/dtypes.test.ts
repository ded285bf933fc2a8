/** bf16 and f16 conversions, bit-exact on chosen values (rounding to nearest even, NaN, infinities, subnormals). */
import { describe, expect, it } from 'vitest';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, roundToBf16, roundToF16 } from '../../../runtime/io/dtypes.js';

/** The float32 whose bit pattern is `bits`. */
const fromBits = (bits: number): number => new Float32Array(new Uint32Array([bits]).buffer)[0]!;

describe('bf16', () => {
  it('rounds float32 bit patterns to nearest, ties to even', () => {
    const cases: [number, number][] = [
      [0x3f800000, 0x3f80], // 1.0 exactly
      [0x3f808000, 0x3f80], // 1 + 2^-8: halfway, the even neighbour is 0x3f80 (down)
      [0x3f818000, 0x3f82], // 1 + 3·2^-8: halfway, the even neighbour is 0x3f82 (up)
      [0x3f808001, 0x3f81], // just above halfway: up
      [0x3f807fff, 0x3f80], // just below halfway: down
      [0xbf808001, 0xbf81], // the same for a negative value
      [0x80000000, 0x8000], // -0 keeps its sign
      [0x7f7fffff, 0x7f80], // the largest float32 rounds to +infinity
      [0x7f800000, 0x7f80], // +infinity
      [0xff800000, 0xff80], // -infinity
      [0x00000001, 0x0000], // the smallest subnormal rounds to zero
      [0x7f800001, 0x7fc0], // a signalling NaN whose payload would round into infinity stays NaN
      [0xffc00000, 0xffc0], // a quiet negative NaN
    ];
    for (const [f32, bf16] of cases) expect(roundToBf16(f32).toString(16), f32.toString(16)).toBe(bf16.toString(16));
  });

  it('widens exactly and narrows arrays', () => {
    const bits = new Uint16Array([0x3f80, 0xc0a0, 0x0000, 0x8000, 0x7f80, 0x3e80]);
    expect([...bf16ToF32(bits)]).toEqual([1, -5, 0, -0, Infinity, 0.25]);
    expect([...f32ToBf16(new Float32Array([1, -5, fromBits(0x3f818000)]))]).toEqual([0x3f80, 0xc0a0, 0x3f82]);
    expect(Number.isNaN(bf16ToF32(new Uint16Array([0x7fc0]))[0])).toBe(true);
  });
});

describe('f16', () => {
  it('rounds float32 values to nearest, ties to even, with subnormals and overflow', () => {
    const cases: [number, number][] = [
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff], // the largest f16
      [65519, 0x7bff], // below the halfway point to 65536: down
      [65520, 0x7c00], // halfway to 65536 (not representable): ties to even → infinity
      [1e6, 0x7c00],
      [1 + 2 ** -11, 0x3c00], // halfway between 1 and 1 + 2^-10: even is 1
      [1 + 3 * 2 ** -11, 0x3c02], // halfway: even is 1 + 2^-9
      [2 ** -14, 0x0400], // the smallest normal
      [2 ** -24, 0x0001], // the smallest subnormal
      [2 ** -25, 0x0000], // half of it: ties to even → 0
      [1.5 * 2 ** -25, 0x0001], // above half: up
      [2 ** -14 - 2 ** -25, 0x0400], // the largest subnormal + half an ulp: rounds up into the normals
      [-0, 0x8000],
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
    ];
    for (const [value, half] of cases) expect(roundToF16(new Uint32Array(new Float32Array([value]).buffer)[0]!).toString(16), String(value)).toBe(half.toString(16));
    expect(roundToF16(0x7fc00000) & 0x7c00).toBe(0x7c00);
    expect(roundToF16(0x7fc00000) & 0x3ff).not.toBe(0);
  });

  it('widens every f16 value exactly and round-trips it', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const wide = f16ToF32(all);
    expect(wide[0x3c00]).toBe(1);
    expect(wide[0x0001]).toBe(2 ** -24);
    expect(wide[0xfbff]).toBe(-65504);
    const back = f32ToF16(wide);
    for (let h = 0; h < 65536; h++) {
      const isNaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (!isNaN && back[h] !== h) throw new Error(`f16 ${h.toString(16)} came back as ${back[h]!.toString(16)}`);
    }
  });
});
