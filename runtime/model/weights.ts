/** Where the executor reads weights: a ParamStore, or any tensors by name (gradient checks, a recomputed layer's inputs). */
import type { tf } from '../tf.js';

export interface Weights {
  readonly params: ReadonlyMap<string, tf.Tensor>;
  readonly state: ReadonlyMap<string, tf.Tensor>;
}
