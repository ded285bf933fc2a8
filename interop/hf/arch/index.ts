/**
 * A HF `config.json` read into the architecture a `.moe` spec states, for the seven families
 * `moe import hf` reads (deepseek_v2, deepseek_v3, mixtral, llama, qwen2_moe, qwen3_moe, olmoe).
 * Sizes must be written; the behavioural fields fall back to the defaults of HF's config class,
 * because that is what transformers itself runs when a field is absent. What transformers computes
 * decides, not what a field's name suggests: DeepseekV2 never renormalises the top-k weights, so a
 * `norm_topk_prob: true` it would ignore is refused rather than read. Anything our IR cannot
 * express (another rope type, biases it has no place for, …) is refused with the field that says so.
 *
 * This module picks the family by `model_type`; each family's reader is a file of its own.
 */
import { RuntimeError } from '../../../runtime/errors.js';
import { DEEPSEEK_V2, DEEPSEEK_V3 } from './deepseek.js';
import { LLAMA } from './llama.js';
import { MIXTRAL } from './mixtral.js';
import { OLMOE } from './olmoe.js';
import { QWEN2_MOE, QWEN3_MOE } from './qwen.js';
import { ConfigReader, type FamilyReader } from './reader.js';
import { SUPPORTED_TYPES, type HfArchitecture, type HfJson, type HfModelType } from './types.js';

export { SUPPORTED_TYPES } from './types.js';
export type { GqaFeatures, HfArchitecture, HfAttention, HfJson, HfModelType, HfMoe, HfWindow, RopeScaling } from './types.js';

const READERS: Readonly<Record<HfModelType, FamilyReader>> = {
  deepseek_v2: DEEPSEEK_V2,
  deepseek_v3: DEEPSEEK_V3,
  mixtral: MIXTRAL,
  llama: LLAMA,
  qwen2_moe: QWEN2_MOE,
  qwen3_moe: QWEN3_MOE,
  olmoe: OLMOE,
};

/** The architecture of a parsed config.json, or a RuntimeError naming what cannot be expressed. */
export function readHfArchitecture(json: HfJson, path: string): HfArchitecture {
  const type = json.model_type;
  const reader = typeof type === 'string' && Object.hasOwn(READERS, type) ? READERS[type as HfModelType] : undefined;
  if (!reader) {
    throw new RuntimeError(`${path}: model_type ${JSON.stringify(type)} is not supported`, `moe import hf reads ${SUPPORTED_TYPES.join(', ')} checkpoints`);
  }
  return reader.read(new ConfigReader(json, path, reader.defaults), path);
}
