/** What every family writes alike, and the refusals every family shares (a window, capacity, MTP). */
import type { MoeFfn, ModelStructure, Rope } from '../structure.js';
import type { HfConfigResult, HfFamily, JsonValue } from './types.js';

export const fail = (reason: string): HfConfigResult => ({ ok: false, reason });

function ropeScaling(rope: Rope): JsonValue {
  const s = rope.scaling;
  if (s.kind === 'yarn') {
    return {
      type: 'yarn',
      rope_type: 'yarn',
      factor: s.factor,
      original_max_position_embeddings: s.originalContext,
      beta_fast: s.betaFast,
      beta_slow: s.betaSlow,
      mscale: s.mscale,
      mscale_all_dim: s.mscaleAllDim,
    };
  }
  if (s.kind === 'linear') return { type: 'linear', rope_type: 'linear', factor: s.factor };
  return null;
}

/** The fields every family writes the same way. */
export function common(s: ModelStructure): { [k: string]: JsonValue } {
  return {
    vocab_size: s.vocab,
    hidden_size: s.dim,
    num_hidden_layers: s.layers.length,
    max_position_embeddings: s.context,
    rms_norm_eps: s.normEps,
    rope_theta: s.rope.theta,
    rope_scaling: ropeScaling(s.rope),
    hidden_act: 'silu',
    attention_dropout: 0,
    tie_word_embeddings: s.tied,
    initializer_range: s.initStd,
    torch_dtype: 'bfloat16',
    dtype: 'bfloat16',
  };
}

export function noWindow(s: ModelStructure, family: HfFamily): string | undefined {
  const windowed = s.layers.find((l) => l.features.window !== null);
  return windowed ? `\`window\` (layer ${windowed.index} attends over ${windowed.features.window} tokens): HF's ${family} has no sliding-window attention` : undefined;
}

export function dropless(moe: MoeFfn | null): string | undefined {
  return moe && moe.capacity !== null ? `\`capacity = ${moe.capacity}\`: HF's MoE layers drop no tokens` : undefined;
}

export function mtp(s: ModelStructure, family: HfFamily): string | undefined {
  return s.mtp.length > 0 ? `\`mtp\` (${s.mtp.length} module${s.mtp.length === 1 ? '' : 's'}): only deepseek_v3 has MTP layers, not ${family}` : undefined;
}

/** The first reason, or undefined. */
export function first(...reasons: (string | undefined)[]): string | undefined {
  return reasons.find((r) => r !== undefined);
}
