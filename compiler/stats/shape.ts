/**
 * The plain numbers the statistics need, independent of `.moe` syntax. The checker builds a
 * `ModelShape` from a checked model block; tests and tools may build one by hand.
 */

/** The attention's shape is the IR's (ir/structure.ts reads it back from a graph); the statistics share it. */
export type { AttentionShape } from '../../ir/structure.js';
import type { AttentionShape } from '../../ir/structure.js';

export type FfnShape =
  | { readonly kind: 'dense'; readonly hidden: number }
  | {
      readonly kind: 'moe';
      /** routed experts */
      readonly experts: number;
      /** shared (always-on) experts, each of size `hidden` (HF: one MLP of hidden * shared) */
      readonly shared: number;
      /** per-expert intermediate size */
      readonly hidden: number;
      readonly topK: number;
      /** a sigmoid gate [1, dim] scales the shared experts' output (Qwen2-MoE); absent = none */
      readonly sharedGate?: boolean;
      /** the shared experts' MLP width when stated (`shared_hidden`); absent = shared × hidden */
      readonly sharedHidden?: number;
    };

/** The hidden width of a MoE layer's shared experts, one MLP as HF builds it (0 without shared experts). */
export function sharedWidth(ffn: { readonly shared: number; readonly hidden: number; readonly sharedHidden?: number }): number {
  if (ffn.shared === 0) return 0;
  return ffn.sharedHidden ?? ffn.shared * ffn.hidden;
}

export interface ModelShape {
  readonly vocab: number;
  readonly dim: number;
  readonly context: number;
  readonly tieEmbeddings: boolean;
  readonly attention: AttentionShape;
  /** RMSNorm of queries and keys (GQA): per head or full width; absent = none */
  readonly qkNorm?: 'none' | 'head' | 'full';
  /** biases on the q, k and v projections (GQA); absent = none */
  readonly qkvBias?: boolean;
  /** per main layer, its sliding window or null for full attention; absent = every layer full */
  readonly windows?: readonly (number | null)[];
  /** one entry per layer, index = layer number */
  readonly layers: readonly FfnShape[];
  /** number of multi-token-prediction modules (0 = none) */
  readonly mtpDepth: number;
}

export type Precision = 'fp32' | 'bf16' | 'fp16';

export interface ParallelPlan {
  readonly data: number;
  readonly tensor: number;
  readonly pipeline: number;
  readonly expert: number;
  readonly microBatches: number;
  /** ZeRO stage 0..3 (DeepSpeed / Megatron distributed optimizer semantics) */
  readonly zero: 0 | 1 | 2 | 3;
  /**
   * Activation recomputation: `selective` (default) keeps each layer's activations except the
   * attention scores; `full` keeps only each layer's input and recomputes the layer in backward.
   */
  readonly recompute?: 'selective' | 'full';
}

export interface TrainingSetup {
  readonly seqLen: number;
  /** global batch in sequences */
  readonly batch: number;
  readonly precision: Precision;
}

export interface ClusterShape {
  readonly devices: number;
  /** bytes of memory per device */
  readonly memory: number;
  /** peak FLOP/s per device */
  readonly peak: number;
}
