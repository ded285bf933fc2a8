/** The architecture a HF `config.json` is read into: what a `.moe` spec states, family by family. */
import type { RopeScaling } from '../../../ir/rope.js';
import type { MlaAttention, RouterSettings } from '../../../ir/structure.js';

export type { RopeScaling } from '../../../ir/rope.js';

export type HfJson = { readonly [k: string]: unknown };

/** GQA's own features (issue 20): q/k norm and q/k/v biases. */
export interface GqaFeatures {
  readonly qkNorm: 'none' | 'head' | 'full';
  readonly qkvBias: boolean;
}

/** MLA as the IR states it; GQA's head_dim is null where config.json has none (the spec then leaves it out). */
export type HfAttention =
  | MlaAttention
  | ({ readonly kind: 'gqa'; readonly heads: number; readonly kvHeads: number; readonly headDim: number | null } & GqaFeatures);

export interface HfMoe extends RouterSettings {
  readonly shared: number;
  /** Qwen2-MoE's sigmoid gate on the shared expert */
  readonly sharedGate: boolean;
  /** the shared expert's width where it is not `shared` × `hidden` (Qwen2-MoE); absent = that product */
  readonly sharedHidden?: number;
  readonly hidden: number;
  readonly aux: { readonly kind: 'sequence' | 'batch'; readonly alpha: number } | null;
}

/** Sliding-window attention: the window and the layers using it (null: every layer). */
export interface HfWindow {
  readonly size: number;
  readonly layers: readonly number[] | null;
}

export const SUPPORTED_TYPES = ['deepseek_v2', 'deepseek_v3', 'mixtral', 'llama', 'qwen2_moe', 'qwen3_moe', 'olmoe'] as const;
export type HfModelType = (typeof SUPPORTED_TYPES)[number];

export interface HfArchitecture {
  readonly modelType: HfModelType;
  readonly vocab: number;
  readonly dim: number;
  readonly layers: number;
  readonly context: number;
  readonly tied: boolean;
  readonly normEps: number;
  readonly initStd: number;
  readonly ropeTheta: number;
  readonly rope: RopeScaling;
  readonly attention: HfAttention;
  readonly window: HfWindow | null;
  /** the layers that are dense SwiGLU of `denseHidden`; the rest are MoE (all of them when `moe` is null) */
  readonly denseLayers: readonly number[];
  readonly denseHidden: number;
  readonly moe: HfMoe | null;
  /** MTP modules the config announces (DeepSeek's `num_nextn_predict_layers`) */
  readonly mtpLayers: number;
}
