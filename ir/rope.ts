/**
 * The `rope` attribute of attention nodes (specs/ir.md §3.2), read and checked in one place for
 * every reader of the IR: the runtime's kernels and the code generators.
 */
import type { AttrValue } from './types.js';

export type RopeScaling =
  | { readonly kind: 'none' }
  | { readonly kind: 'linear'; readonly factor: number }
  | {
      readonly kind: 'yarn';
      readonly factor: number;
      readonly originalContext: number;
      readonly betaFast: number;
      readonly betaSlow: number;
      readonly mscale: number;
      readonly mscaleAllDim: number;
    };

export interface RopeConfig {
  readonly theta: number;
  /** pairs (2i, 2i+1) rotate together (DeepSeek MLA) rather than halves (i, i + d/2) (Llama) */
  readonly interleaved: boolean;
  readonly scaling: RopeScaling;
}

type AttrObject = { readonly [k: string]: AttrValue };

function isObject(v: AttrValue | undefined): v is AttrObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function field(o: AttrObject, key: string, ok: (v: number) => boolean, domain: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new Error(`rope ${key} must be a number ${domain}, found ${JSON.stringify(v)}`);
  return v;
}

const positive = (v: number): boolean => v > 0;
const any = (): boolean => true;

/** Reads and checks the `rope` attribute (the verifier does not check rope fields, §1.11). */
export function parseRope(attr: AttrValue | undefined): RopeConfig {
  if (!isObject(attr)) throw new Error('attribute rope must be an object');
  const theta = field(attr, 'theta', (v) => v > 0 && v !== 1, '> 0 and ≠ 1');
  const interleaved = attr.interleaved;
  if (typeof interleaved !== 'boolean') throw new Error('rope interleaved must be a boolean');
  const s = attr.scaling;
  if (!isObject(s)) throw new Error('rope scaling must be an object');
  let scaling: RopeScaling;
  if (s.kind === 'none') scaling = { kind: 'none' };
  else if (s.kind === 'linear') scaling = { kind: 'linear', factor: field(s, 'factor', positive, '> 0') };
  else if (s.kind === 'yarn') {
    scaling = {
      kind: 'yarn',
      factor: field(s, 'factor', positive, '> 0'),
      originalContext: field(s, 'original_context', positive, '> 0'),
      betaFast: field(s, 'beta_fast', positive, '> 0'),
      betaSlow: field(s, 'beta_slow', positive, '> 0'),
      mscale: field(s, 'mscale', any, ''),
      mscaleAllDim: field(s, 'mscale_all_dim', any, ''),
    };
  } else throw new Error(`rope scaling kind must be none, linear or yarn, found ${JSON.stringify(s.kind)}`);
  return { theta, interleaved, scaling };
}

/** YaRN temperature m(s, a) = 0.1·a·ln(s) + 1 for s > 1 (HF `get_mscale`). */
export function yarnMscale(factor: number, mscale: number): number {
  return factor <= 1 ? 1 : 0.1 * mscale * Math.log(factor) + 1;
}

