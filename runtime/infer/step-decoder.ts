/**
 * What generation (generate.ts) asks of a decoder, whichever executor runs it: the tfjs cached
 * decoder (decoder.ts) or the cuda one (runtime/cuda/decoder.ts). A `DecodeEngine` opens a decoder
 * for a batch; generate() takes either an engine or the tfjs weights (then the tfjs decoder).
 */
import type { MlaCacheMode } from './cache.js';

export interface StepDecoder {
  /**
   * Feeds ids [B][T] of the live rows (every row T columns; `real[b][t]` false marks left padding)
   * and returns the logits after each live row's last column: [B, V] row-major, on the host.
   */
  next(ids: readonly (readonly number[])[], real: readonly (readonly boolean[])[]): Promise<Float32Array>;
  /** Keeps only the given live rows (their order from now on). */
  keepRows(rows: readonly number[]): void;
  /** Floats the cache holds per token per row, over all layers. */
  floatsPerToken(): number;
  /** single-token steps of this generation that replayed a captured graph */
  readonly replays: number;
  /** whether this decoder (its caches and graph) can serve another generation of the same shapes */
  reusable(): boolean;
  /** Starts a new generation on the kept caches and graph (after reusable()). */
  reset(): void;
  dispose(): void;
}

export interface DecodeEngine {
  /** A decoder for `rows` prompts whose caches hold `capacity` columns (prompt width plus new tokens, rounded up). */
  open(rows: number, capacity: number, mlaCache: MlaCacheMode): StepDecoder;
}

/** Whether generate()'s source is an engine (else it is tfjs weights). */
export function isDecodeEngine(source: object): source is DecodeEngine {
  return typeof (source as Partial<DecodeEngine>).open === 'function';
}
