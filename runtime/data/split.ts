/**
 * The train/valid split: record i is held out when a hash of (i, seed) falls below the share. It
 * depends on nothing but the index, so a record stays on its side however often the data is
 * reopened, resumed, or read in another order, and adding records at the end never moves old ones.
 */

/** murmur3's finaliser over the index mixed with the seed: a well-spread 32-bit value. */
export function indexHash(index: number, seed: number): number {
  let h = (Math.imul(index >>> 0, 0x9e3779b1) ^ Math.imul(seed >>> 0, 0x85ebca6b) ^ 0x5bd1e995) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function isValid(index: number, share: number, seed = 0): boolean {
  return indexHash(index, seed) / 4294967296 < share;
}

export interface Split {
  readonly train: number[];
  readonly valid: number[];
}

/**
 * Indices 0 … n − 1 split by `share`. With a positive share and at least two records the valid
 * side is never empty (the record with the smallest hash goes there), so evaluation always has data.
 */
export function splitIndices(n: number, share: number, seed = 0): Split {
  const train: number[] = [];
  const valid: number[] = [];
  for (let i = 0; i < n; i++) (isValid(i, share, seed) ? valid : train).push(i);
  if (share > 0 && valid.length === 0 && n >= 2) {
    let min = 0;
    for (let i = 1; i < n; i++) if (indexHash(i, seed) < indexHash(min, seed)) min = i;
    train.splice(train.indexOf(min), 1);
    valid.push(min);
  }
  return { train, valid };
}
