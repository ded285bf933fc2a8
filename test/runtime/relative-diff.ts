/** Comparing a backend's numbers with a reference's. */
import { expect } from 'vitest';

/** max |a − b| over max |b| (the reference's scale; 1 where it is all zeros); the lengths must match. */
export function relativeDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / (scale || 1);
}
