/**
 * The `.moe` spec of an imported HF checkpoint: every number from its config.json, each line
 * commented with the HF field it came from, laid out by `moe fmt` so the file is canonical.
 * What config.json does not say (the MTP loss weight, the bias update rate) gets the DeepSeek-V3
 * values, and a comment says so.
 */
import { formatText } from '../../compiler/syntax/format.js';
import { runs } from '../../ir/structure.js';
import type { HfArchitecture, HfAttention, HfModelType, HfMoe, HfWindow, RopeScaling } from './arch/index.js';

/** What the tensors tell beyond config.json. */
export interface CheckpointFacts {
  /** the model block's name */
  readonly name: string;
  /** the HF folder, for the header comment */
  readonly source: string;
  /** the MoE layers carry `e_score_correction_bias` */
  readonly hasBias: boolean;
  /** MTP modules whose tensors exist */
  readonly mtpDepth: number;
}

/** The first line of every generated spec says this; an import only ever overwrites such a file. */
export const IMPORT_MARK = 'imported by `moe import hf`';

/** The rate DeepSeek-V3 used (γ = 0.001); training needs one and config.json has none. */
export const DEFAULT_BIAS_RATE = 1e-3;
/** DeepSeek-V3's MTP loss weight for most of pre-training (λ = 0.3). */
export const DEFAULT_MTP_WEIGHT = 0.3;

/** A number as the `.moe` lexer reads it; small ones in exponent form (1e-6 reads better than 0.000001). */
function num(x: number): string {
  return x !== 0 && Math.abs(x) < 1e-3 ? x.toExponential() : String(x);
}

function rope(theta: number, s: RopeScaling): string[] {
  if (s.kind === 'none') return [`rope { theta = ${num(theta)} }   // rope_theta`];
  const scaling =
    s.kind === 'linear'
      ? [`scaling linear { factor = ${num(s.factor)} }   // rope_scaling.factor`]
      : [
          `// rope_scaling (type yarn)`,
          `scaling yarn {`,
          `  factor = ${num(s.factor)}`,
          `  original_context = ${s.originalContext}   // original_max_position_embeddings`,
          `  beta_fast = ${num(s.betaFast)}`,
          `  beta_slow = ${num(s.betaSlow)}`,
          `  mscale = ${num(s.mscale)}`,
          `  mscale_all_dim = ${num(s.mscaleAllDim)}`,
          `}`,
        ];
  return [`rope {`, `  theta = ${num(theta)}   // rope_theta`, ...scaling.map((l) => `  ${l}`), `}`];
}

function window(w: HfWindow | null): string[] {
  if (!w) return [];
  const lines = [`window = ${w.size}   // sliding_window`];
  if (w.layers) lines.push(`window_layers = [${w.layers.join(', ')}]   // layer_types: sliding_attention`);
  return lines;
}

function attention(a: HfAttention, w: HfWindow | null): string[] {
  if (a.kind === 'gqa') {
    const features = [
      ...(a.qkNorm === 'head' ? ['qk_norm = head   // q_norm / k_norm: one weight of head_dim'] : []),
      ...(a.qkNorm === 'full' ? ['qk_norm = full   // q_norm / k_norm over every head\'s channels'] : []),
      ...(a.qkvBias ? ['qkv_bias = true   // q_proj, k_proj and v_proj have biases'] : []),
      ...window(w),
    ];
    return [
      `attention gqa {`,
      `  heads = ${a.heads}   // num_attention_heads`,
      `  kv_heads = ${a.kvHeads}   // num_key_value_heads`,
      ...(a.headDim === null ? [] : [`  head_dim = ${a.headDim}   // head_dim`]),
      ...features.map((l) => `  ${l}`),
      `}`,
    ];
  }
  return [
    `attention mla {`,
    `  heads    = ${a.heads}   // num_attention_heads`,
    `  q_rank   = ${a.qRank}   // q_lora_rank${a.qRank === 0 ? ' (null: queries are not compressed)' : ''}`,
    `  kv_rank  = ${a.kvRank}   // kv_lora_rank`,
    `  nope_dim = ${a.nopeDim}   // qk_nope_head_dim`,
    `  rope_dim = ${a.ropeDim}   // qk_rope_head_dim`,
    `  v_dim    = ${a.vDim}   // v_head_dim`,
    ...window(w).map((l) => `  ${l}`),
    `}`,
  ];
}

function router(m: HfMoe, facts: CheckpointFacts): string[] {
  const lines = [`router {`, `  score = ${m.score}   // scoring_func`];
  if (m.groups > 1) lines.push(`  groups = ${m.groups}   // n_group`, `  top_groups = ${m.topGroups}   // topk_group`);
  lines.push(`  normalize = ${m.normalize}   // norm_topk_prob`, `  scale = ${num(m.scale)}   // routed_scaling_factor`);
  if (facts.hasBias) {
    lines.push(`  // the checkpoint has e_score_correction_bias; config.json has no update rate, DeepSeek-V3 used 1e-3`);
    lines.push(`  balance = bias { rate = ${num(DEFAULT_BIAS_RATE)} }`);
  } else if (m.groups > 1 && m.topGroups < m.groups) {
    lines.push(`  // no e_score_correction_bias: groups are scored by their best expert, where HF sums the top 2 (specs/ir.md §4.9)`);
  }
  if (m.aux?.kind === 'batch') {
    // HF's load_balancing_loss_func concatenates every layer's router logits into ONE term; the IR's batch
    // loss is one term per layer: the same weight, not the same objective (inference is unaffected)
    lines.push(`  // router_aux_loss_coef × top_k; HF pools all layers into one balance term, this is one term per layer`);
  }
  if (m.aux) lines.push(`  aux_loss = ${m.aux.kind} { alpha = ${num(m.aux.alpha)} }`);
  lines.push(`}`);
  return lines;
}

/** The config.json fields each family names its MoE sizes with. */
const MOE_FIELDS: Readonly<Record<HfModelType, { experts: string; hidden: string; dense: string }>> = {
  deepseek_v2: { experts: 'n_routed_experts', hidden: 'moe_intermediate_size', dense: 'first_k_dense_replace' },
  deepseek_v3: { experts: 'n_routed_experts', hidden: 'moe_intermediate_size', dense: 'first_k_dense_replace' },
  mixtral: { experts: 'num_local_experts', hidden: 'intermediate_size', dense: '' },
  llama: { experts: '', hidden: '', dense: 'every layer' },
  qwen2_moe: { experts: 'num_experts', hidden: 'moe_intermediate_size', dense: 'mlp_only_layers / decoder_sparse_step' },
  qwen3_moe: { experts: 'num_experts', hidden: 'moe_intermediate_size', dense: 'mlp_only_layers / decoder_sparse_step' },
  olmoe: { experts: 'num_experts', hidden: 'intermediate_size', dense: '' },
};

function moe(m: HfMoe, facts: CheckpointFacts, modelType: HfModelType): string[] {
  const fields = MOE_FIELDS[modelType];
  const shared =
    m.shared === 0
      ? []
      : modelType === 'qwen2_moe'
        ? [
            ...(m.sharedHidden === undefined
              ? [`  shared  = ${m.shared}   // shared_expert_intermediate_size / moe_intermediate_size`]
              : [`  shared  = ${m.shared}`, `  shared_hidden = ${m.sharedHidden}   // shared_expert_intermediate_size`]),
            ...(m.sharedGate ? ['  shared_gate = true   // shared_expert_gate'] : []),
          ]
        : [`  shared  = ${m.shared}   // n_shared_experts`];
  return [
    `moe {`,
    `  experts = ${m.experts}   // ${fields.experts}`,
    ...shared,
    `  hidden  = ${m.hidden}   // ${fields.hidden}`,
    `  top_k   = ${m.topK}   // num_experts_per_tok`,
    ...router(m, facts).map((l) => `  ${l}`),
    `}`,
  ];
}

function layerRanges(arch: HfArchitecture, facts: CheckpointFacts): string[] {
  const lines: string[] = [];
  const dense = new Set(arch.denseLayers);
  const kinds = Array.from({ length: arch.layers }, (_, i) => dense.has(i) || !arch.moe);
  for (const [first, last] of runs(kinds, (a, b) => a === b)) {
    if (kinds[first]) {
      lines.push(`// ${MOE_FIELDS[arch.modelType].dense}: dense SwiGLU of intermediate_size`);
      lines.push(`layers ${first}..${last} {`, `  ffn swiglu { hidden = ${arch.denseHidden} }`, `}`);
    } else lines.push(`layers ${first}..${last} {`, ...moe(arch.moe!, facts, arch.modelType).map((l) => `  ${l}`), `}`);
  }
  return lines;
}

function mtp(arch: HfArchitecture, facts: CheckpointFacts): string[] {
  if (facts.mtpDepth > 0) {
    return [
      `// num_nextn_predict_layers: model.layers.${arch.layers}… hold the MTP modules; config.json has no loss weight, DeepSeek-V3 used 0.3`,
      `mtp { depth = ${facts.mtpDepth}, weight = ${num(DEFAULT_MTP_WEIGHT)} }`,
    ];
  }
  if (arch.mtpLayers > 0) return [`// num_nextn_predict_layers = ${arch.mtpLayers}, but the checkpoint has no MTP tensors: none here`];
  return [];
}

/** The spec text, formatted; throws (a bug) if the generated text does not parse. */
export function specText(arch: HfArchitecture, facts: CheckpointFacts): string {
  const body = [
    `vocab   = ${arch.vocab}   // vocab_size`,
    `dim     = ${arch.dim}   // hidden_size`,
    `layers  = ${arch.layers}   // num_hidden_layers`,
    `context = ${arch.context}   // max_position_embeddings`,
    `tie_embeddings = ${arch.tied}   // tie_word_embeddings`,
    `init { std = ${num(arch.initStd)} }   // initializer_range`,
    `norm rmsnorm { eps = ${num(arch.normEps)} }   // rms_norm_eps`,
    ...rope(arch.ropeTheta, arch.rope),
    ...attention(arch.attention, arch.window),
    ...layerRanges(arch, facts),
    ...mtp(arch, facts),
  ];
  const text = [
    `// ${facts.name}: ${IMPORT_MARK} from ${facts.source} (model_type ${arch.modelType}).`,
    `// Every number is from its config.json (the HF field is named beside it); the weights are in the`,
    `// checkpoint folder written with this file.`,
    ``,
    `model ${facts.name} {`,
    ...body.map((l) => `  ${l}`),
    `}`,
    ``,
  ].join('\n');
  const formatted = formatText(`${facts.name}.moe`, text);
  if ('error' in formatted) throw new Error(`the generated spec of ${facts.name} does not parse (a bug in moe import):\n${text}`);
  return formatted.text;
}
