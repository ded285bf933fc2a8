/** The `model` block: architecture of a DeepSeek-style MoE transformer (HF deepseek_v3 vocabulary). */
import { block, bool, empty, int, list, num, oneOf, variant } from './dsl.js';
import { MAX_COUNT, MAX_LAYERS, MAX_TOKENS, MAX_VOCAB, MAX_WIDTH } from './limits.js';

/** a width: dim, hidden sizes, ranks, head sizes */
const size = (doc: string) => int(doc, { min: 1, max: MAX_WIDTH });
/** a count of experts, heads or groups */
const count = (doc: string) => int(doc, { min: 1, max: MAX_COUNT });

const router = block(
  {
    score: oneOf(['sigmoid', 'softmax'], 'function turning router logits into expert scores (HF `scoring_func`)', {
      default: 'sigmoid',
    }),
    groups: int('expert groups for group-limited routing (HF `n_group`); 1 = no grouping', { min: 1, max: MAX_COUNT, default: 1 }),
    top_groups: int('groups each token may route into (HF `topk_group`); defaults to all groups', {
      min: 1,
      max: MAX_COUNT,
      optional: true,
    }),
    normalize: bool('renormalise the selected top-k weights to sum to 1 (HF `norm_topk_prob`)', { default: true }),
    scale: num('multiplier on the routed experts\' output (HF `routed_scaling_factor`)', {
      min: 0,
      exclusiveMin: true,
      default: 1,
    }),
    balance: variant(
      {
        bias: block(
          { rate: num('bias update speed γ: b_i += γ·sign(mean load − load_i) after each step', { min: 0, default: 1e-3 }) },
          'auxiliary-loss-free balancing: a per-expert bias added to scores for selection only',
        ),
        none: empty('no bias balancing'),
      },
      'load balancing by a selection-only bias (DeepSeek-V3)',
      { default: 'none' },
    ),
    aux_loss: variant(
      {
        sequence: block(
          { alpha: num('coefficient α of the sequence-wise balance loss', { min: 0, default: 1e-4 }) },
          'balance loss computed per sequence (DeepSeek-V3)',
        ),
        batch: block({ alpha: num('coefficient α of the batch-wise balance loss', { min: 0, default: 1e-2 }) }, 'balance loss over the batch (Switch/GShard)'),
        none: empty('no auxiliary balance loss'),
      },
      'auxiliary balance loss',
      { default: 'none' },
    ),
    z_loss: num('router logit z-loss coefficient', { min: 0, default: 0 }),
    capacity: num('expert capacity factor; `none` = dropless (tokens over capacity are dropped otherwise)', {
      min: 0,
      exclusiveMin: true,
      nullable: true,
      default: null,
    }),
  },
  'how tokens choose experts',
);

const moe = block(
  {
    experts: count('routed experts (HF `n_routed_experts`)'),
    shared: int('shared, always-on experts (HF `n_shared_experts`; Qwen2-MoE: `shared_expert_intermediate_size` / `moe_intermediate_size`, or 1 with `shared_hidden`)', {
      min: 0,
      max: MAX_COUNT,
      default: 0,
    }),
    shared_gate: bool(
      'a sigmoid gate on the shared experts\' output: shared(x) · σ(x·w), w of shape [1, dim] (Qwen2-MoE `shared_expert_gate`); needs `shared` ≥ 1',
      { default: false },
    ),
    shared_hidden: int(
      'hidden width of the shared experts\' one SwiGLU MLP (Qwen2-MoE `shared_expert_intermediate_size`); defaults to `shared` × `hidden`; needs `shared` ≥ 1',
      { min: 1, max: MAX_WIDTH, optional: true },
    ),
    hidden: size('intermediate size of each expert (HF `moe_intermediate_size`)'),
    top_k: count('experts activated per token (HF `num_experts_per_tok`)'),
    router: { ...router, optional: false },
  },
  'a mixture-of-experts feed-forward layer',
  { optional: true },
);

const ffn = variant(
  { swiglu: block({ hidden: size('intermediate size (HF `intermediate_size`)') }, 'SwiGLU MLP: down(silu(gate x) · up x)') },
  'a dense feed-forward layer',
  { optional: true },
);

const layerRange = block({ ffn, moe }, 'the feed-forward of layers a..b (inclusive); exactly one of `ffn` or `moe`');

/** sliding-window attention, for every attention kind (a mask: the cache keeps every column) */
const windowFields = {
  window: int(
    'sliding-window attention: a query sees itself and the window − 1 tokens before it (HF `sliding_window`); absent = full causal attention',
    { min: 1, max: MAX_TOKENS, optional: true },
  ),
  window_layers: list(int('layer index', { min: 0, max: MAX_LAYERS }), 'the layers that use `window` (HF `layer_types` entries `sliding_attention`); the others attend fully. Defaults to every layer; MTP modules always attend fully', {
    optional: true,
  }),
};

/** q/k norm and q/k/v biases: fields of every attention kind, refused on mla by the checker (MOE4111) */
const projectionFields = {
  qk_norm: oneOf(
    ['none', 'head', 'full'],
    'RMSNorm on queries and keys before rotary, eps the model\'s norm eps: `head` = one weight of head_dim shared by all heads (Qwen3 `q_norm`/`k_norm`), `full` = over all heads\' channels, heads·head_dim for q and kv_heads·head_dim for k (OLMoE); gqa/mha/mqa only',
    { default: 'none' },
  ),
  qkv_bias: bool('biases on the q, k and v projections, none on o (Qwen2-MoE / Qwen1.5-MoE); gqa/mha/mqa only', { default: false }),
};

const gqaFields = {
  heads: count('query heads'),
  head_dim: int('size of each head; defaults to dim / heads', { min: 1, max: MAX_WIDTH, optional: true }),
  ...projectionFields,
  ...windowFields,
};

const attention = variant(
  {
    mla: block(
      {
        heads: count('attention heads'),
        q_rank: int('query compression rank (HF `q_lora_rank`); 0 = no compression', { min: 0, max: MAX_WIDTH, default: 0 }),
        kv_rank: size('key/value latent rank (HF `kv_lora_rank`); the KV cache holds this per token'),
        nope_dim: size('per-head query/key size without rotary embedding (HF `qk_nope_head_dim`)'),
        rope_dim: size('per-head decoupled rotary size (HF `qk_rope_head_dim`)'),
        v_dim: size('per-head value size (HF `v_head_dim`)'),
        ...projectionFields,
        ...windowFields,
      },
      'multi-head latent attention (DeepSeek-V2/V3)',
    ),
    gqa: block(
      { ...gqaFields, kv_heads: count('key/value heads; must divide heads') },
      'grouped-query attention',
    ),
    mha: block(gqaFields, 'multi-head attention (GQA with kv_heads = heads)'),
    mqa: block(gqaFields, 'multi-query attention (GQA with kv_heads = 1)'),
  },
  'the attention of every layer',
);

export const modelSpec = block(
  {
    vocab: int('vocabulary size (HF `vocab_size`)', { min: 1, max: MAX_VOCAB }),
    dim: size('model width (HF `hidden_size`)'),
    layers: int('transformer layers (HF `num_hidden_layers`); the bound keeps a typo from building a billion layers', { min: 1, max: MAX_LAYERS }),
    context: int('maximum sequence length (HF `max_position_embeddings`)', { min: 1, max: MAX_TOKENS }),
    tie_embeddings: bool('share the embedding and output head weights', { default: false }),
    export: oneOf(
      ['none', 'hf'],
      'where the trained model must go: `hf` = HF transformers (`moe export hf`); `moe check` (and so `moe train`) refuses a model no transformers class computes (MOE7201) before any training',
      { default: 'none' },
    ),
    init: block(
      {
        std: num('standard deviation of the normal initialiser', { min: 0, default: 0.02 }),
      },
      'parameter initialisation',
      { optional: true },
    ),
    norm: variant(
      { rmsnorm: block({ eps: num('epsilon added to the mean square', { min: 0, exclusiveMin: true, default: 1e-6 }) }, 'RMSNorm') },
      'normalisation layers',
      { default: 'rmsnorm' },
    ),
    rope: block(
      {
        theta: num('rotary base frequency (HF `rope_theta`)', { min: 0, exclusiveMin: true, default: 10000 }),
        scaling: variant(
          {
            yarn: block(
              {
                factor: num('context extension factor', { min: 1 }),
                original_context: int('context the model was trained at', { min: 1, max: MAX_TOKENS }),
                beta_fast: num('YaRN β_fast', { default: 32 }),
                beta_slow: num('YaRN β_slow', { default: 1 }),
                mscale: num('YaRN attention scale', { default: 1 }),
                mscale_all_dim: num('YaRN mscale applied to all dims', { default: 0 }),
              },
              'YaRN context extension',
            ),
            linear: block({ factor: num('position interpolation factor', { min: 1 }) }, 'linear position interpolation'),
            none: empty('no scaling'),
          },
          'rotary scaling for context extension',
          { default: 'none' },
        ),
      },
      'rotary position embedding',
      { optional: true },
    ),
    attention,
    mtp: block(
      {
        depth: int('multi-token prediction modules (HF `num_nextn_predict_layers`)', { min: 0, max: MAX_LAYERS, default: 1 }),
        weight: num('MTP loss weight λ', { min: 0, max: 1, default: 0.3 }),
      },
      'multi-token prediction (DeepSeek-V3)',
      { optional: true },
    ),
  },
  'a model architecture',
  { ranges: layerRange },
);
