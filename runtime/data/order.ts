/**
 * A seeded, resumable sample order: epoch e visits 0 … n − 1 in a permutation drawn from
 * (seed, e), and the whole position is `{seed, epoch, position}`, a few numbers a checkpoint
 * stores as JSON. Restoring them continues with exactly the samples the interrupted run would
 * have seen next, because each epoch's permutation is recomputed from the seed, never stored.
 */
import { RuntimeError } from '../errors.js';
import { mulberry32, tensorSeed } from '../random.js';

export interface OrderState {
  readonly seed: number;
  readonly epoch: number;
  readonly position: number;
}

/** Fisher–Yates over 0 … n − 1 with a PRNG seeded by (seed, epoch); `shuffle = false` keeps 0 … n − 1. */
export function permutation(n: number, seed: number, epoch: number, shuffle = true): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  if (!shuffle) return p;
  const uniform = mulberry32(tensorSeed(seed, `order.epoch.${epoch}`));
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(uniform() * (i + 1));
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

export class SampleOrder {
  private epochValue: number;
  private positionValue: number;
  private perm: Int32Array;

  constructor(
    readonly n: number,
    private readonly seed: number,
    private readonly shuffle = true,
  ) {
    if (n <= 0) throw new RuntimeError('cannot draw samples from an empty data set', 'check the data source and the validation share');
    this.epochValue = 0;
    this.positionValue = 0;
    this.perm = permutation(n, seed, 0, shuffle);
  }

  /** the next sample index; crosses into the next epoch (a new permutation) when one is used up */
  next(): number {
    if (this.positionValue >= this.n) this.seek(this.epochValue + 1, 0);
    return this.perm[this.positionValue++]!;
  }

  state(): OrderState {
    return { seed: this.seed, epoch: this.epochValue, position: this.positionValue };
  }

  restore(state: OrderState): void {
    if (state.seed !== this.seed) throw new RuntimeError(`the saved sample order has seed ${state.seed}, this run ${this.seed}`, 'resume with the same seed');
    if (!Number.isInteger(state.position) || state.position < 0 || state.position > this.n) {
      throw new RuntimeError(`the saved sample position ${state.position} does not fit a data set of ${this.n} samples`, 'resume on the same data');
    }
    this.seek(state.epoch, state.position);
  }

  private seek(epoch: number, position: number): void {
    if (epoch !== this.epochValue) this.perm = permutation(this.n, this.seed, epoch, this.shuffle);
    this.epochValue = epoch;
    this.positionValue = position;
  }
}
