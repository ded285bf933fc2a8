/** What every family reads the same way: the defaults all of HF's config classes share, the sizes, the rotary embedding. */
import { RuntimeError } from '../../../runtime/errors.js';
import type { RopeScaling } from '../../../ir/rope.js';
import { ConfigReader } from './reader.js';
import type { HfJson } from './types.js';

export const COMMON_DEFAULTS: HfJson = {
  tie_word_embeddings: false,
  initializer_range: 0.02,
  rope_theta: 10000,
  hidden_act: 'silu',
};

/** transformers 4 writes `rope_theta` + `rope_scaling`; transformers 5 writes `rope_parameters`. */
function readRope(c: ConfigReader, context: number, path: string): { theta: number; scaling: RopeScaling } {
  const parameters = c.record('rope_parameters');
  const scaling = parameters ?? c.record('rope_scaling');
  const sub = new ConfigReader(scaling ?? {}, `${path}: ${parameters ? 'rope_parameters' : 'rope_scaling'}`, {
    beta_fast: 32,
    beta_slow: 1,
    mscale: 1,
    mscale_all_dim: 0,
    original_max_position_embeddings: context,
  });
  const theta = typeof parameters?.rope_theta === 'number' ? parameters.rope_theta : c.num('rope_theta');
  const type = scaling?.rope_type ?? scaling?.type ?? 'default';
  if (type === 'default') return { theta, scaling: { kind: 'none' } };
  if (type === 'linear') return { theta, scaling: { kind: 'linear', factor: sub.num('factor') } };
  if (type === 'yarn') {
    return {
      theta,
      scaling: {
        kind: 'yarn',
        factor: sub.num('factor'),
        originalContext: sub.int('original_max_position_embeddings'),
        betaFast: sub.num('beta_fast'),
        betaSlow: sub.num('beta_slow'),
        mscale: sub.num('mscale'),
        mscaleAllDim: sub.num('mscale_all_dim'),
      },
    };
  }
  throw new RuntimeError(`${path}: rope type ${JSON.stringify(type)} is not supported (default, linear, yarn)`);
}

/** The fields every supported architecture reads the same way. */
export function sharedFields(c: ConfigReader, path: string) {
  c.require('hidden_act', 'silu', 'the feed-forward is SwiGLU (silu)');
  const context = c.int('max_position_embeddings');
  const rope = readRope(c, context, path);
  return {
    vocab: c.int('vocab_size'),
    dim: c.int('hidden_size'),
    layers: c.int('num_hidden_layers'),
    context,
    tied: c.bool('tie_word_embeddings'),
    normEps: c.num('rms_norm_eps'),
    initStd: c.num('initializer_range'),
    ropeTheta: rope.theta,
    rope: rope.scaling,
  } as const;
}
