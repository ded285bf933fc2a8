/** Global gradient-norm clipping against a plain-JS reference of PyTorch's `clip_grad_norm_`. */
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../../runtime/backend/select.js';
import { normalArray } from '../../../runtime/random.js';
import { tf } from '../../../runtime/tf.js';
import { clipGradients, clipScale } from '../../../runtime/train/clip.js';

const DATA = new Map([
  ['a', { shape: [4, 3], data: normalArray(12, 1, 11) }],
  ['b', { shape: [7], data: normalArray(7, 2, 12) }],
]);

function referenceNorm(): number {
  let s = 0;
  for (const { data } of DATA.values()) for (const x of data) s += x * x;
  return Math.sqrt(s);
}

describe('clipping', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('computes the total L2 norm and scales by max_norm / (norm + 1e-6)', async () => {
    const grads = new Map([...DATA].map(([n, t]) => [n, tf.tensor(t.data, t.shape)]));
    const norm = referenceNorm();
    expect(norm).toBeGreaterThan(1);
    const { norm: got, grads: clipped } = await clipGradients(grads, 1);
    expect(Math.abs(got - norm) / norm).toBeLessThan(1e-6);
    const scale = 1 / (norm + 1e-6);
    for (const [name, t] of DATA) {
      const c = await clipped.get(name)!.data();
      for (let i = 0; i < t.data.length; i++) expect(Math.abs(c[i]! - t.data[i]! * scale)).toBeLessThan(1e-6);
    }
    // the clipped norm is max_norm (up to the 1e-6 guard)
    let s = 0;
    for (const t of clipped.values()) for (const x of await t.data()) s += x * x;
    expect(Math.sqrt(s)).toBeCloseTo(1, 5);
    [...grads.values(), ...clipped.values()].forEach((t) => t.dispose());
  });

  it('leaves the gradients alone when within bounds or off (0)', async () => {
    const grads = new Map([...DATA].map(([n, t]) => [n, tf.tensor(t.data, t.shape)]));
    for (const maxNorm of [0, 1e3]) {
      const before = tf.memory().numTensors;
      const { norm, grads: out } = await clipGradients(grads, maxNorm);
      expect(Math.abs(norm - referenceNorm()) / norm).toBeLessThan(1e-6);
      for (const [name, t] of DATA) expect(await out.get(name)!.data()).toEqual(t.data);
      out.forEach((t) => t.dispose());
      expect(tf.memory().numTensors).toBe(before);
    }
    grads.forEach((t) => t.dispose());
    expect(clipScale(5, 0)).toBe(1);
    expect(clipScale(0.5, 1)).toBe(1);
    expect(clipScale(4, 2)).toBeCloseTo(2 / (4 + 1e-6), 15);
  });
});
