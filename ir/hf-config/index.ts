/**
 * `--emit hf-config` and `moe export hf`: the HF transformers `config.json` of a model, in the
 * family whose transformers code computes the SAME model, or the reason none does. The families:
 *
 *   MLA, sigmoid routing                       deepseek_v3
 *   MLA, softmax routing                       deepseek_v2 (never renormalises; a group's score is its best expert)
 *   GQA, every layer dense                     llama
 *   GQA, per-head q/k norm                     qwen3_moe
 *   GQA, full-width q/k norm                   olmoe
 *   GQA, no q/k norm                           mixtral (renormalised, no shared experts), else
 *                                              qwen2_moe (q/k/v biases, a gated shared expert)
 *
 * A setting no transformers class computes (a softmax MLA router that renormalises, a shared expert
 * without Qwen's gate, a window on a family without one, …) is refused naming the spec setting,
 * never written as a config transformers would load and compute differently. The numbers come from
 * the graph document (config, node attributes, parameter shapes).
 *
 * This module picks the family as the table above does; each family's writer is a file of its own.
 */
import type { GraphDocument, ModelGraph } from '../types.js';
import { modelStructure, uniformMoe, type Block, type GqaAttention, type ModelStructure } from '../structure.js';
import { dropless, fail } from './common.js';
import { mlaConfig } from './deepseek.js';
import { windows } from './gqa.js';
import { llama } from './llama.js';
import { mixtral, notMixtral } from './mixtral.js';
import { olmoe } from './olmoe.js';
import { notQwen2, qwen2Moe, qwen3Moe, qwenDense } from './qwen.js';
import { hfConfigText } from './text.js';
import type { HfConfigResult } from './types.js';

export { hfConfigText } from './text.js';
export { SAME_NAMES } from './types.js';
export type { HfConfig, HfConfigResult, HfFamily, JsonValue } from './types.js';

/** Every layer's attention sizes and features (the window aside) must be the first layer's. */
function sameAttention(s: ModelStructure): string | undefined {
  const [a] = s.layers;
  const key = (l: Block): string => JSON.stringify([l.attention, l.features.qkNorm, l.features.qkvBias]);
  const differs = s.layers.find((l) => key(l) !== key(a!));
  return differs ? `every layer must have the same attention (layer ${differs.index} differs from layer ${a!.index})` : undefined;
}

function gqaConfig(s: ModelStructure, a: GqaAttention): HfConfigResult {
  const moeCheck = uniformMoe(s.layers);
  if (!moeCheck.ok) return fail(moeCheck.reason);
  const moe = moeCheck.moe;
  if (!moe) return llama(s, a);
  const capacity = dropless(moe);
  if (capacity) return fail(capacity);
  const dense = qwenDense(s);
  if (typeof dense === 'string') return fail(dense);
  const w = windows(s);
  if (typeof w === 'string') return fail(w);
  const { qkNorm } = s.layers[0]!.features;
  if (qkNorm === 'head') return qwen3Moe(s, a, moe, dense);
  if (qkNorm === 'full') return olmoe(s, a, moe);
  const mixtralWhy = notMixtral(s, moe);
  if (!mixtralWhy) return mixtral(s, a, moe, w);
  const qwenWhy = notQwen2(s, a, moe);
  if (!qwenWhy) return qwen2Moe(s, a, moe, dense, w);
  return fail(`not mixtral (${mixtralWhy}), not qwen2_moe (${qwenWhy})`);
}

/** The `config.json` of one model, or why no HF architecture computes it. */
export function hfConfig(model: ModelGraph): HfConfigResult {
  const s = modelStructure(model);
  const attention = s.layers[0]?.attention;
  if (!attention) return fail(`${model.name} has no layers`);
  const same = sameAttention(s);
  if (same) return fail(same);
  return attention.kind === 'gqa' ? gqaConfig(s, attention) : mlaConfig(s, attention);
}

/** One `MODEL.config.json` per model; the first model that cannot be exported fails the lot. */
export function emitHfConfigs(doc: GraphDocument): { ok: true; files: { name: string; text: string }[] } | { ok: false; reason: string } {
  const files: { name: string; text: string }[] = [];
  for (const model of doc.models) {
    const result = hfConfig(model);
    if (!result.ok) return { ok: false, reason: `${model.name}: ${result.reason}` };
    files.push({ name: `${model.name}.config.json`, text: hfConfigText(result.config) });
  }
  if (files.length === 0) return { ok: false, reason: `${doc.source} declares no model` };
  return { ok: true, files };
}
