/**
 * Float32 ↔ the 16-bit float formats checkpoints hold. bf16 is the upper half of a float32, so
 * widening is a shift and narrowing rounds the dropped half to nearest, ties to even (what PyTorch's
 * `tensor.to(torch.bfloat16)` does). f16 (IEEE binary16) needs real re-biasing, subnormals included.
 * Everything works on raw bits so NaN payloads, signed zeros and infinities survive.
 */

/** bf16 bit patterns → float32 values (exact: every bf16 is a float32). */
export function bf16ToF32(bits: Uint16Array): Float32Array {
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i]! << 16;
  return new Float32Array(out.buffer);
}

/** float32 values → bf16 bit patterns, rounded to nearest even. */
export function f32ToBf16(values: Float32Array): Uint16Array {
  const u = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < u.length; i++) out[i] = roundToBf16(u[i]!);
  return out;
}

/** One float32 bit pattern → its bf16 bit pattern. */
export function roundToBf16(bits: number): number {
  // NaN: keep the sign and top payload bits but force a quiet NaN, since rounding could carry a
  // NaN's payload into the exponent and turn it into infinity
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x0040) & 0xffff;
  // adding 0x7fff plus the lowest kept bit rounds halfway cases to the even neighbour; a carry out
  // of the largest finite value correctly produces infinity
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

let halfTable: Float32Array | undefined;

/** All 65,536 f16 values, computed once: a lookup beats bit-twiddling per element on big tensors. */
function f16Table(): Float32Array {
  if (halfTable) return halfTable;
  halfTable = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) halfTable[h] = halfToNumber(h);
  return halfTable;
}

function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >>> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** f16 bit patterns → float32 values (exact). */
export function f16ToF32(bits: Uint16Array): Float32Array {
  const table = f16Table();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]!]!;
  return out;
}

/** float32 values → f16 bit patterns, rounded to nearest even; overflow gives infinity. */
export function f32ToF16(values: Float32Array): Uint16Array {
  const u = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < u.length; i++) out[i] = roundToF16(u[i]!);
  return out;
}

/** One float32 bit pattern → its f16 bit pattern. */
export function roundToF16(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa === 0 ? 0 : 0x200);
  const e = exponent - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) return sign | subnormalHalf(mantissa | 0x800000, e);
  // the carry of a round-up may ripple into the exponent (and up to infinity): still the right bits
  return sign | roundShift((e << 23) | mantissa, 13);
}

/** A value below f16's normal range: its 24-bit significand in units of 2^-24, rounded. */
function subnormalHalf(significand: number, e: number): number {
  // below half the smallest subnormal (2^-25) everything rounds to zero
  if (e < -10) return 0;
  return roundShift(significand, 14 - e);
}

/** `value >> shift`, rounded to nearest with ties to even. */
function roundShift(value: number, shift: number): number {
  const kept = value >>> shift;
  const rest = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rest > half || (rest === half && (kept & 1) === 1) ? kept + 1 : kept;
}
