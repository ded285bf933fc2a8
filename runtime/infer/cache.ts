/**
 * The key/value cache of one attention node during generation, and the batch bookkeeping every
 * layer shares (which key positions are real, where each row's next position is).
 *
 * What a layer keeps per token:
 *   attention.gqa       k and v of every kv head: 2 · G · d floats
 *   attention.mla       latent mode: the normalised latent c and the rotary key, kv_rank + rope_dim
 *                       floats, shared by all heads (DeepSeek-V2/V3's inference cache); naive mode:
 *                       HF's expanded keys and values, H · (nope + rope) + H · v floats
 * Tensors are [B, heads-or-1, T, width] and grow along T; rows are dropped (`keepRows`) when their
 * sequence finishes, so finished rows cost nothing in later steps.
 */
import { tf } from '../tf.js';

/** How MLA layers cache: the compressed latent (absorbed up-projection) or the expanded keys/values. */
export type MlaCacheMode = 'latent' | 'naive';

/** One attention node's cached tensors, in the order its decode kernel defines. */
export class LayerCache {
  private tensors: tf.Tensor[] = [];

  get length(): number {
    return this.tensors[0]?.shape[2] ?? 0;
  }

  /** The cache with this step's tensors appended along time (taking ownership of the result). */
  append(fresh: readonly tf.Tensor[]): tf.Tensor[] {
    const grown = this.tensors.length === 0 ? fresh.map((t) => tf.keep(t)) : fresh.map((t, i) => tf.keep(tf.concat([this.tensors[i]!, t], 2)));
    this.tensors.forEach((t) => t.dispose());
    this.tensors = grown;
    return grown;
  }

  /** Keeps only the given batch rows. */
  keepRows(rows: tf.Tensor1D): void {
    const kept = this.tensors.map((t) => tf.gather(t, rows, 0));
    this.tensors.forEach((t) => t.dispose());
    this.tensors = kept;
  }

  /** Floats held per cached token per row (the cache's memory per token, ÷ 4 bytes). */
  floatsPerToken(): number {
    return this.tensors.reduce((sum, t) => sum + t.shape[1]! * t.shape[3]!, 0);
  }

  dispose(): void {
    this.tensors.forEach((t) => t.dispose());
    this.tensors = [];
  }
}

/** Additive mask value for keys a query must not see: finite so a query with no visible key (a
 * left-pad position) gets a harmless uniform average instead of NaN, which MoE layers would spread. */
const HIDDEN = -1e9;

/** The rows of a batch being generated: which cached key positions are real tokens, and positions. */
export class BatchState {
  /** per row, per cached column: 1 for a real token, 0 for left padding */
  private valid: number[][];
  /** per row: the position id of the row's next token */
  private next: number[];

  constructor(rows: number) {
    this.valid = Array.from({ length: rows }, () => []);
    this.next = new Array<number>(rows).fill(0);
  }

  get rows(): number {
    return this.valid.length;
  }

  /**
   * Registers a step of `time` new columns per row (`real[b][t]` says whether column t of row b is a
   * token or padding) and returns their position ids: padding takes position 0, tokens count up.
   */
  advance(real: readonly (readonly boolean[])[]): number[][] {
    return real.map((row, b) =>
      row.map((isReal) => {
        this.valid[b]!.push(isReal ? 1 : 0);
        return isReal ? this.next[b]!++ : 0;
      }),
    );
  }

  /**
   * The additive mask [B, 1, Tq, Tk] of the last `queries` columns against every cached column:
   * 0 where the key is a real token at or before the query, HIDDEN elsewhere.
   */
  mask(queries: number): tf.Tensor4D {
    const keys = this.valid[0]?.length ?? 0;
    const values = new Float32Array(this.rows * queries * keys).fill(HIDDEN);
    this.valid.forEach((row, b) => {
      for (let t = 0; t < queries; t++) {
        const column = keys - queries + t;
        const base = (b * queries + t) * keys;
        for (let u = 0; u <= column; u++) if (row[u]) values[base + u] = 0;
      }
    });
    return tf.tensor4d(values, [this.rows, 1, queries, keys]);
  }

  keepRows(rows: readonly number[]): void {
    this.valid = rows.map((r) => this.valid[r]!);
    this.next = rows.map((r) => this.next[r]!);
  }
}
