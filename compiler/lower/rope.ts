/** Rotary-embedding attributes and the attention softmax scale (YaRN's mscale folded in, as HF does). */
import type { AttrValue } from '../../ir/types.js';
import type { Config } from '../check/values.js';
import { yarnMscale } from '../../ir/rope.js';
import { schemaNumber } from '../schema/defaults.js';
import { modelSpec } from '../schema/model.js';

export function ropeAttrs(model: Config, interleaved: boolean): { [k: string]: AttrValue } {
  const rope = model.sub('rope');
  const scaling = rope?.sub('scaling');
  // `rope` is an optional block: absent, the schema's theta applies
  const theta = rope?.num('theta') ?? schemaNumber(modelSpec, 'rope', 'theta');
  let scalingAttr: AttrValue = { kind: 'none' };
  if (scaling?.tag === 'yarn') {
    scalingAttr = {
      kind: 'yarn',
      factor: scaling.num('factor') ?? 1,
      original_context: scaling.num('original_context') ?? 0,
      beta_fast: scaling.num('beta_fast') ?? 32,
      beta_slow: scaling.num('beta_slow') ?? 1,
      mscale: scaling.num('mscale') ?? 1,
      mscale_all_dim: scaling.num('mscale_all_dim') ?? 0,
    };
  } else if (scaling?.tag === 'linear') {
    scalingAttr = { kind: 'linear', factor: scaling.num('factor') ?? 1 };
  }
  return { theta, scaling: scalingAttr, interleaved };
}

/** 1/sqrt(qk head dim), times mscale(factor, mscale_all_dim)² under YaRN (HF DeepseekV3Attention). */
export function softmaxScale(model: Config, qkHeadDim: number): number {
  const scaling = model.sub('rope')?.sub('scaling');
  let scale = 1 / Math.sqrt(qkHeadDim);
  if (scaling?.tag === 'yarn') {
    const all = scaling.num('mscale_all_dim') ?? 0;
    if (all) {
      const m = yarnMscale(scaling.num('factor') ?? 1, all);
      scale *= m * m;
    }
  }
  return scale;
}
