/** `--emit hf-config`: deepseek_v3 and mixtral config.json from the graph, and the refusals. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EMITTERS } from '../../compiler/codegen/index.js';
import { hfConfig, type HfConfig } from '../../ir/hf-config/index.js';
import { DENSE, MOE, example, lowerText, onlyModel, root, tinyModel } from './helpers.js';

function config(name: string): HfConfig {
  const result = hfConfig(onlyModel(example(name)));
  if (!result.ok) throw new Error(result.reason);
  return result.config;
}

function reason(text: string): string {
  const result = hfConfig(onlyModel(lowerText(text)));
  if (result.ok) throw new Error('expected a refusal');
  return result.reason;
}

describe('hf-config: DeepSeek-V3', () => {
  const c = config('deepseek-v3');

  it('is a deepseek_v3 config', () => {
    expect(c.model_type).toBe('deepseek_v3');
    expect(c.architectures).toEqual(['DeepseekV3ForCausalLM']);
  });

  it('has the released numbers of deepseek-ai/DeepSeek-V3', () => {
    expect(c).toMatchObject({
      vocab_size: 129280,
      hidden_size: 7168,
      intermediate_size: 18432,
      moe_intermediate_size: 2048,
      num_hidden_layers: 61,
      num_attention_heads: 128,
      num_key_value_heads: 128,
      n_shared_experts: 1,
      n_routed_experts: 256,
      num_experts_per_tok: 8,
      routed_scaling_factor: 2.5,
      n_group: 8,
      topk_group: 4,
      norm_topk_prob: true,
      first_k_dense_replace: 3,
      q_lora_rank: 1536,
      kv_lora_rank: 512,
      qk_nope_head_dim: 128,
      qk_rope_head_dim: 64,
      v_head_dim: 128,
      head_dim: 64,
      max_position_embeddings: 163840,
      rms_norm_eps: 1e-6,
      rope_theta: 10000,
      tie_word_embeddings: false,
      num_nextn_predict_layers: 1,
      initializer_range: 0.006,
      scoring_func: 'sigmoid',
      topk_method: 'noaux_tc',
      rope_interleave: true,
      attention_bias: false,
      torch_dtype: 'bfloat16',
      dtype: 'bfloat16',
    });
  });

  it('has the YaRN rope scaling', () => {
    expect(c.rope_scaling).toEqual({
      type: 'yarn',
      rope_type: 'yarn',
      factor: 40,
      original_max_position_embeddings: 4096,
      beta_fast: 32,
      beta_slow: 1,
      mscale: 1,
      mscale_all_dim: 1,
    });
  });
});

describe('hf-config: DeepSeek-V2 (softmax MLA)', () => {
  const withoutYarn = readFileSync(join(root, 'examples', 'deepseek-v2-lite.moe'), 'utf8').replace(/scaling yarn \{[^}]*\}/, '');
  const result = hfConfig(onlyModel(lowerText(withoutYarn)));
  if (!result.ok) throw new Error(result.reason);
  const c = result.config;

  it('is deepseek_v2, never deepseek_v3 (whose transformers class always routes by sigmoid)', () => {
    expect(c.model_type).toBe('deepseek_v2');
    expect(c.architectures).toEqual(['DeepseekV2ForCausalLM']);
    expect(c.scoring_func).toBeUndefined();
  });

  it('has no query compression, greedy softmax routing without renormalising, the shared experts', () => {
    expect(c).toMatchObject({
      q_lora_rank: null,
      topk_method: 'greedy',
      norm_topk_prob: false,
      n_group: 1,
      topk_group: 1,
      n_routed_experts: 64,
      n_shared_experts: 2,
      num_experts_per_tok: 6,
      moe_intermediate_size: 1408,
      intermediate_size: 10944,
      first_k_dense_replace: 1,
      num_hidden_layers: 27,
      aux_loss_alpha: 0.001,
      seq_aux: true,
    });
  });

  it('refuses DeepSeek-V2-Lite\'s YaRN with mscale_all_dim: HF\'s DeepseekV2 leaves mscale² out of the attention scale', () => {
    const refused = hfConfig(onlyModel(example('deepseek-v2-lite')));
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.reason).toMatch(/`mscale_all_dim = 0\.707`: HF's DeepseekV2 leaves YaRN's mscale² out of the attention scale/);
  });

  it('refuses shared experts whose width is no multiple of the experts\' (DeepSeek counts n_shared_experts), and takes one that is', () => {
    const wide = (shared: string): string => tinyModel(`  layers 0..3 { moe { experts = 4, ${shared}, hidden = 8, top_k = 2 } }`);
    expect(reason(wide('shared = 1, shared_hidden = 12'))).toBe(
      '`shared_hidden = 12`: HF\'s deepseek_v3 sizes its shared experts as n_shared_experts × moe_intermediate_size, and 12 is not a multiple of 8',
    );
    const whole = hfConfig(onlyModel(lowerText(wide('shared = 1, shared_hidden = 16'))));
    expect(whole.ok && whole.config).toMatchObject({ model_type: 'deepseek_v3', n_shared_experts: 2, moe_intermediate_size: 8 });
  });

  it('refuses a softmax MLA router that renormalises: no transformers class computes it', () => {
    const text = tinyModel(`  layers 0..3 { moe { experts = 4, shared = 1, hidden = 8, top_k = 2, router { score = softmax, normalize = true } } }`);
    expect(reason(text)).toMatch(/^`normalize = true` with `score = softmax`: HF's DeepseekV2 .* never renormalises/);
  });
});

describe('hf-config: the GQA families', () => {
  const gqa = (ranges: string, attention = 'attention gqa { heads = 4, kv_heads = 2 }'): string => tinyModel(ranges).replace(/attention mla \{[^}]*\}/, attention);
  const family = (text: string): HfConfig => {
    const result = hfConfig(onlyModel(lowerText(text)));
    if (!result.ok) throw new Error(result.reason);
    return result.config;
  };
  const SOFTMAX = (router: string, extra = ''): string => `moe { experts = 4, hidden = 8, top_k = 2${extra}, router { score = softmax${router} } }`;

  it('every layer dense: llama', () => {
    const c = family(gqa(`  layers 0..3 { ${DENSE} }`));
    expect(c).toMatchObject({ model_type: 'llama', architectures: ['LlamaForCausalLM'], intermediate_size: 32, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 4 });
  });

  it('per-head q/k norm: qwen3_moe, dense layers as mlp_only_layers', () => {
    const c = family(gqa(`  layers 0..0 { ${DENSE} }\n  layers 1..3 { ${SOFTMAX('')} }`, 'attention gqa { heads = 4, kv_heads = 2, qk_norm = head }'));
    expect(c).toMatchObject({ model_type: 'qwen3_moe', num_experts: 4, moe_intermediate_size: 8, intermediate_size: 32, mlp_only_layers: [0], norm_topk_prob: true, head_dim: 4 });
  });

  it('full-width q/k norm: olmoe', () => {
    const c = family(gqa(`  layers 0..3 { ${SOFTMAX(', normalize = false')} }`, 'attention mha { heads = 4, qk_norm = full }'));
    expect(c).toMatchObject({ model_type: 'olmoe', num_experts: 4, intermediate_size: 8, norm_topk_prob: false, num_key_value_heads: 4 });
  });

  it('q/k/v biases, a gated shared expert and windows on some layers: qwen2_moe with layer_types', () => {
    const c = family(gqa(`  layers 0..3 { ${SOFTMAX(', normalize = false', ', shared = 2, shared_gate = true')} }`, 'attention mha { heads = 4, qkv_bias = true, window = 5, window_layers = [0, 2] }'));
    expect(c).toMatchObject({
      model_type: 'qwen2_moe',
      shared_expert_intermediate_size: 16,
      qkv_bias: true,
      use_sliding_window: true,
      sliding_window: 5,
      layer_types: ['sliding_attention', 'full_attention', 'sliding_attention', 'full_attention'],
    });
  });

  it('a shared expert of its own width (`shared_hidden`): qwen2_moe\'s shared_expert_intermediate_size', () => {
    const c = family(gqa(`  layers 0..3 { ${SOFTMAX(', normalize = false', ', shared = 1, shared_hidden = 12, shared_gate = true')} }`, 'attention mha { heads = 4, qkv_bias = true }'));
    expect(c).toMatchObject({ model_type: 'qwen2_moe', moe_intermediate_size: 8, shared_expert_intermediate_size: 12 });
  });

  it('a window on every layer of a Mixtral: sliding_window', () => {
    expect(family(gqa(`  layers 0..3 { ${SOFTMAX('')} }`, 'attention gqa { heads = 4, kv_heads = 2, window = 8 }'))).toMatchObject({ model_type: 'mixtral', sliding_window: 8 });
  });

  it('refuses what no family computes, naming the setting', () => {
    // softmax without renormalising and no shared expert: not mixtral, not qwen2_moe
    expect(reason(gqa(`  layers 0..3 { ${SOFTMAX(', normalize = false')} }`))).toBe(
      'not mixtral (`normalize = false`: Mixtral renormalises the top-k weights), not qwen2_moe (`shared = 0`: HF\'s qwen2_moe always has a gated shared expert)',
    );
    // a shared expert without Qwen's gate
    expect(reason(gqa(`  layers 0..3 { ${SOFTMAX('', ', shared = 1')} }`))).toMatch(/not qwen2_moe \(`shared = 1` without `shared_gate = true`/);
    // a window on a family without one
    expect(reason(gqa(`  layers 0..3 { ${SOFTMAX('')} }`, 'attention gqa { heads = 4, kv_heads = 2, qk_norm = head, window = 4 }'))).toMatch(/`window` \(layer 0 attends over 4 tokens\): HF's qwen3_moe has no sliding-window attention/);
    // token-dropping capacity
    expect(reason(gqa(`  layers 0..3 { ${SOFTMAX(', capacity = 1.25')} }`))).toMatch(/`capacity = 1\.25`: HF's MoE layers drop no tokens/);
  });
});

describe('hf-config: Mixtral', () => {
  const c = config('mixtral');

  it('exports a GQA all-MoE softmax model as mixtral', () => {
    expect(c.model_type).toBe('mixtral');
    expect(c.architectures).toEqual(['MixtralForCausalLM']);
    expect(c).toMatchObject({
      vocab_size: 32000,
      hidden_size: 4096,
      intermediate_size: 14336,
      num_hidden_layers: 32,
      num_attention_heads: 32,
      num_key_value_heads: 8,
      head_dim: 128,
      num_local_experts: 8,
      num_experts_per_tok: 2,
      rope_theta: 1e6,
      rms_norm_eps: 1e-5,
      sliding_window: null,
      // α = 0.02 on the IR's balance loss; HF's loss is top_k = 2 times larger
      router_aux_loss_coef: 0.01,
      max_position_embeddings: 32768,
    });
    expect(c).not.toHaveProperty('q_lora_rank');
  });
});

describe('hf-config: refusals', () => {
  it('refuses a dense layer after MoE layers for deepseek_v3', () => {
    expect(reason(tinyModel(`  layers 0..1 { ${MOE} }\n  layers 2..2 { ${DENSE} }\n  layers 3..3 { ${MOE} }`))).toBe(
      'dense layers must be the first k layers for deepseek_v3 (layer 2 is dense after MoE layers)',
    );
  });

  it('refuses MoE layers that differ', () => {
    const other = 'moe { experts = 8, hidden = 8, top_k = 2, router { score = sigmoid } }';
    expect(reason(tinyModel(`  layers 0..1 { ${MOE} }\n  layers 2..3 { ${other} }`))).toMatch(
      /^every MoE layer must have the same experts\/top_k\/hidden \(layer 0: 4 experts, top-2, hidden 8; layer 2: 8 experts/,
    );
  });

  it('refuses a GQA model that is neither a Mixtral nor a Qwen2-MoE, saying why for each', () => {
    const text = tinyModel(`  layers 0..0 { ${DENSE} }\n  layers 1..3 { moe { experts = 4, hidden = 8, top_k = 2, router { score = softmax } } }`).replace(
      /attention mla \{[^}]*\}/,
      'attention gqa { heads = 4, kv_heads = 2 }',
    );
    expect(reason(text)).toMatch(/^not mixtral \(layer 0 is dense\), not qwen2_moe \(`shared = 0`/);
  });

  it('refuses groups scored by their best expert for deepseek_v3, which sums the top 2', () => {
    const grouped = 'moe { experts = 8, hidden = 8, top_k = 2, router { score = sigmoid, groups = 4, top_groups = 2 } }';
    expect(reason(tinyModel(`  layers 0..3 { ${grouped} }`))).toMatch(/`groups = 4` without `balance = bias`: a group is scored by its best expert here, by the sum of its top 2 in HF's DeepseekV3/);
  });

  it('turns a refusal into an error result of the emitter, naming the model', async () => {
    const doc = lowerText(tinyModel(`  layers 0..0 { ${MOE} }\n  layers 1..3 { ${DENSE} }`));
    const result = await EMITTERS['hf-config'](doc);
    expect(result).toEqual({
      error: 'cannot write a HF config: Tiny: dense layers must be the first k layers for deepseek_v3 (layer 1 is dense after MoE layers)',
    });
  });

  it('writes one MODEL.config.json per model', async () => {
    const result = await EMITTERS['hf-config'](example('deepseek-v3'));
    if ('error' in result) throw new Error(result.error);
    expect(result.files.map((f) => f.name)).toEqual(['DeepSeekV3.config.json']);
    expect(JSON.parse(result.files[0]!.text)).toMatchObject({ n_group: 8, topk_group: 4 });
  });
});

describe('hf-config: the config.json text', () => {
  it('writes float fields with a decimal point, as transformers 5\'s strict configs require', async () => {
    const result = await EMITTERS['hf-config'](example('deepseek-tiny'));
    if ('error' in result) throw new Error(result.error);
    const file = result.files[0]!;
    expect(file.text).toMatch(/"routed_scaling_factor": 1\.0,/);
    expect(file.text).toMatch(/"rope_theta": 10000\.0,/);
    expect(file.text).toMatch(/"num_hidden_layers": 4,/);
    expect(JSON.parse(file.text)).toMatchObject({ routed_scaling_factor: 1, rope_theta: 10000 });
  });
});
