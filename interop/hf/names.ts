/**
 * Tensor names of released HF checkpoints ↔ the IR's names (DeepSeek's, specs/ir.md §7). Mixtral
 * checkpoints call the MoE block `block_sparse_moe` and the expert matrices w1 (gate), w3 (up) and
 * w2 (down); Qwen2-MoE calls its one shared expert `shared_expert` (ours: `shared_experts`). Llama,
 * Qwen3-MoE and OLMoE use the IR's names. transformers 5 can also save its fused runtime layout (`save_original_format=False`):
 * one `experts.gate_up_proj` [E, 2I, D] (gate rows first) and one `experts.down_proj` [E, D, I].
 */

const W_TO_PROJ: Readonly<Record<string, string>> = { w1: 'gate_proj', w3: 'up_proj', w2: 'down_proj' };
const PROJ_TO_W: Readonly<Record<string, string>> = { gate_proj: 'w1', up_proj: 'w3', down_proj: 'w2' };

const MIXTRAL_BLOCK = /^(model\.layers\.\d+)\.block_sparse_moe\./;
const MIXTRAL_EXPERT = /^(model\.layers\.\d+\.mlp\.experts\.\d+)\.(w[123])\.weight$/;
const OUR_MOE = /^(model\.layers\.\d+)\.mlp\.(gate\.weight|experts\.\d+\.(gate_proj|up_proj|down_proj)\.weight)$/;

const QWEN2_SHARED = /^(model\.layers\.\d+\.mlp)\.shared_expert\./;
const OUR_SHARED = /^(model\.layers\.\d+\.mlp)\.shared_experts\./;

/** A HF tensor name in the IR's naming (DeepSeek names pass through unchanged). */
export function canonicalName(hfName: string): string {
  const name = hfName.replace(MIXTRAL_BLOCK, '$1.mlp.').replace(QWEN2_SHARED, '$1.shared_experts.');
  const expert = MIXTRAL_EXPERT.exec(name);
  return expert ? `${expert[1]}.${W_TO_PROJ[expert[2]!]}.weight` : name;
}

/** An IR name as a released Mixtral checkpoint spells it (what transformers 4 and 5 both load). */
export function mixtralName(name: string): string {
  const m = OUR_MOE.exec(name);
  if (!m) return name;
  const tail = m[3] ? m[2]!.replace(`${m[3]}.weight`, `${PROJ_TO_W[m[3]]}.weight`) : m[2]!;
  return `${m[1]}.block_sparse_moe.${tail}`;
}

/** An IR name as a released checkpoint of `modelType` spells it. */
export function hfName(modelType: string, name: string): string {
  if (modelType === 'mixtral') return mixtralName(name);
  if (modelType === 'qwen2_moe') return name.replace(OUR_SHARED, '$1.shared_expert.');
  return name;
}

/** transformers 5's fused expert tensors: the layer's experts prefix and which matrix. */
export function fusedExperts(name: string): { prefix: string; kind: 'gate_up_proj' | 'down_proj' } | undefined {
  const m = /^(model\.layers\.\d+\.mlp\.experts)\.(gate_up_proj|down_proj)(?:\.weight)?$/.exec(canonicalName(name));
  return m ? { prefix: m[1]!, kind: m[2] as 'gate_up_proj' | 'down_proj' } : undefined;
}

/** Tensors a checkpoint may carry that hold no weights of their own. */
export function isIgnorable(name: string, mtpLayers: readonly number[], tied: boolean): boolean {
  // non-persistent rotary tables that old transformers versions saved
  if (name.endsWith('.rotary_emb.inv_freq')) return true;
  // a tied head is the embedding; some writers still store the copy
  if (tied && name === 'lm_head.weight') return true;
  // DeepSeek's MTP layers repeat the shared embedding and head (specs/ir.md §7): the main ones are read
  return mtpLayers.some((i) => name === `model.layers.${i}.embed_tokens.weight` || name === `model.layers.${i}.shared_head.head.weight`);
}
