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
import { backendCapabilities } from '../backend/registry.js';
import { tf } from '../tf.js';

/** How MLA layers cache: the compressed latent (absorbed up-projection) or the expanded keys/values. */
export type MlaCacheMode = 'latent' | 'naive';

/**
 * One attention node's cached tensors, in the order its decode kernel defines. By default they grow
 * along time by concatenation. With a `capacity` (decode graphs, decoder.ts) they are
 * allocated at that full length once, zero-filled, and each step writes its columns in place at the
 * column its `at` tensor holds: fixed shapes and fixed buffers, as a replayed graph needs; the
 * unwritten columns are hidden by the step's mask.
 */
export class LayerCache {
  private tensors: tf.Tensor[] = [];

  constructor(private readonly capacity: number | null = null) {}

  /**
   * Cached columns; with a capacity, the allocated length. (A replayed graph writes without running
   * this class, so the columns written are counted by the decoder, which feeds them in as `at`.)
   */
  get length(): number {
    return this.capacity ?? this.tensors[0]?.shape[2] ?? 0;
  }

  /** The tensors, for a captured graph's list of state updated in place. */
  get state(): readonly tf.Tensor[] {
    return this.tensors;
  }

  /**
   * The cache with this step's tensors appended along time (taking ownership of the result). With a
   * capacity, `at` is the int32 [1] column to write at; the whole capacity-long cache is returned.
   */
  append(fresh: readonly tf.Tensor[], at?: tf.Tensor1D): tf.Tensor[] {
    if (this.capacity !== null) return this.write(fresh, at);
    const grown = this.tensors.length === 0 ? fresh.map((t) => tf.keep(t)) : fresh.map((t, i) => tf.keep(tf.concat([this.tensors[i]!, t], 2)));
    this.tensors.forEach((t) => t.dispose());
    this.tensors = grown;
    return grown;
  }

  private write(fresh: readonly tf.Tensor[], at: tf.Tensor1D | undefined): tf.Tensor[] {
    const inPlace = backendCapabilities().inPlace;
    if (inPlace === null || at === undefined) throw new Error('a cache with a capacity is written in place (a backend that writes in place), at a column tensor');
    if (this.tensors.length === 0) {
      this.tensors = fresh.map((t) => {
        const [b, h, , w] = t.shape as [number, number, number, number];
        return tf.keep(tf.zeros([b, h, this.capacity!, w]));
      });
    }
    fresh.forEach((t, i) => inPlace.writeColumns(this.tensors[i]!, t, at));
    return this.tensors;
  }

  /** Keeps only the given batch rows. */
  keepRows(rows: tf.Tensor1D): void {
    if (this.capacity !== null) throw new Error('a cache with a capacity keeps every row (decoder.ts masks finished ones)');
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
   * The additive mask [B, 1, Tq, Tk] of the last `queries` columns against every cached column
   * (Tk = `width` for a fixed-capacity cache): 0 where the key is a real token at or before the
   * query (and, with a sliding `window`, fewer than `window` columns before it), HIDDEN elsewhere.
   * Left padding precedes a row's tokens and nothing is inserted between them, so a column
   * distance is a token distance, as in HF's sliding-window mask over cache positions.
   */
  mask(queries: number, width?: number, window: number | null = null): tf.Tensor4D {
    const filled = this.valid[0]?.length ?? 0;
    // a fixed-capacity cache: the columns not written yet are hidden like padding
    const keys = width ?? filled;
    const values = new Float32Array(this.rows * queries * keys).fill(HIDDEN);
    this.valid.forEach((row, b) => {
      for (let t = 0; t < queries; t++) {
        const column = filled - queries + t;
        const base = (b * queries + t) * keys;
        const from = window === null ? 0 : Math.max(0, column - window + 1);
        for (let u = from; u <= column; u++) if (row[u]) values[base + u] = 0;
      }
    });
    return tf.tensor4d(values, [this.rows, 1, queries, keys]);
  }

  keepRows(rows: readonly number[]): void {
    this.valid = rows.map((r) => this.valid[r]!);
    this.next = rows.map((r) => this.next[r]!);
  }
}
