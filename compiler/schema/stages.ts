/** The experiment stages: `pretrain`, `sft`, `grpo`, `sample`, `generate`, `eval`. */
import type { StageKindName } from '../../grammar/tokens.js';
import {
  block,
  bool,
  int,
  list,
  num,
  oneOf,
  pair,
  qty,
  quantity,
  ref,
  str,
  union,
  variant,
  type BlockSpec,
  type FieldSpec,
} from './dsl.js';
import { MAX_EPOCHS, MAX_GROUP, MAX_KEEP, MAX_LAYERS, MAX_RANKS, MAX_STEPS, MAX_TOKENS, MAX_TRAIN_TOKENS, MAX_VOCAB } from './limits.js';

const fraction = num('fraction of training, e.g. `80%`', { min: 0, max: 1 });

const warmup = qty(['steps'], 'linear warmup', { integer: true, min: 0, max: { steps: MAX_STEPS }, default: quantity(0, 'steps') });

const schedule = variant(
  {
    constant: block({ warmup }, 'constant learning rate after warmup'),
    cosine: block(
      { warmup, min_ratio: num('final learning rate as a share of the peak', { min: 0, max: 1, default: 0.1 }) },
      'cosine decay to min_ratio × lr',
    ),
    multistep: block(
      {
        warmup,
        decay: list(pair(fraction, num('factor', { min: 0 }), 'at this share of training, multiply lr by factor'), 'step decays, e.g. `[80% -> 0.316, 90% -> 0.1]`'),
      },
      'DeepSeek\'s multi-step schedule',
    ),
  },
  'learning-rate schedule',
  { default: 'constant' },
);

const optimizer = variant(
  {
    adamw: block(
      {
        lr: num('peak learning rate', { min: 0, exclusiveMin: true, default: 3e-4 }),
        betas: list(num('β', { min: 0, max: 1 }), 'Adam β1, β2', { length: 2, default: [0.9, 0.95] }),
        weight_decay: num('decoupled weight decay (not on norms and biases)', { min: 0, default: 0.1 }),
        eps: num('Adam ε', { min: 0, exclusiveMin: true, default: 1e-8 }),
      },
      'AdamW with decoupled weight decay',
    ),
  },
  'optimizer',
  { default: 'adamw' },
);

const parallel = block(
  {
    data: int('data-parallel ranks', { min: 1, max: MAX_RANKS, default: 1 }),
    tensor: int('tensor-parallel ranks', { min: 1, max: MAX_RANKS, default: 1 }),
    pipeline: int('pipeline stages', { min: 1, max: MAX_LAYERS, default: 1 }),
    expert: int('expert-parallel ranks (carved out of data × tensor)', { min: 1, max: MAX_RANKS, default: 1 }),
    micro_batches: int('micro-batches per step per data rank', { min: 1, max: MAX_RANKS, default: 1 }),
    zero: int('ZeRO stage: 1 shards optimizer state, 2 also gradients, 3 also weights', { min: 0, max: 3, default: 0 }),
    recompute: oneOf(['selective', 'full'], 'activation recomputation: selective keeps all but attention scores; full keeps only layer inputs', {
      default: 'selective',
    }),
    first_stage_layers: int('layers on the first pipeline stage when the split is uneven (Megatron `--decoder-first-pipeline-num-layers`)', {
      min: 0,
      max: MAX_LAYERS,
      optional: true,
    }),
    last_stage_layers: int('layers on the last pipeline stage when the split is uneven (Megatron `--decoder-last-pipeline-num-layers`)', {
      min: 0,
      max: MAX_LAYERS,
      optional: true,
    }),
  },
  'how the stage is laid out on the cluster',
  { optional: true },
);

const every = qty(['steps'], 'interval', { integer: true, min: 1, max: { steps: MAX_STEPS } });

/** A value over training: constant, or the value of the last `fraction -> value` breakpoint reached. */
function scalarSchedule(doc: string) {
  return union([num('value', { min: 0 }), list(pair(fraction, num('value', { min: 0 }), 'from this share of training on, this value'), 'breakpoints')], doc, {
    optional: true,
  });
}

const common = {
  model: ref(['model'], 'the model trained or run', { optional: true }),
  from: ref(['pretrain', 'sft', 'grpo', 'sample'], 'start from this stage\'s final checkpoint, or a checkpoint path', {
    orPath: true,
    optional: true,
  }),
  tokenizer: ref(['tokenizer'], 'tokenizer (inherited through `from` when absent)', { optional: true }),
  seed: int('random seed', { min: 0, default: 0 }),
  on: ref(['cluster'], 'the cluster the parallel plan targets', { optional: true }),
  parallel,
  precision: oneOf(['fp32', 'bf16', 'fp16'], 'training precision (backend permitting)', { default: 'fp32' }),
} satisfies Record<string, FieldSpec>;

const training = {
  seq_len: int('tokens per training sequence', { min: 1, max: MAX_TOKENS, optional: true }),
  steps: qty(['steps', 'tokens', 'epochs'], 'training length: steps, a token budget or epochs', {
    min: 0,
    exclusiveMin: true,
    max: { steps: MAX_STEPS, tokens: MAX_TRAIN_TOKENS, epochs: MAX_EPOCHS },
    optional: true,
  }),
  epochs: num('passes over the data (alternative to `steps`)', { min: 0, exclusiveMin: true, max: MAX_EPOCHS, optional: true }),
  optimizer,
  clip_grad: num('global gradient-norm clip; 0 = off', { min: 0, default: 1 }),
  schedule,
  checkpoint: block(
    { every: { ...every, default: quantity(500, 'steps') }, keep: int('checkpoints kept (oldest deleted)', { min: 1, max: MAX_KEEP, default: 3 }) },
    'checkpointing',
    { optional: true },
  ),
  eval: block(
    { every: { ...every, default: quantity(100, 'steps') }, batches: int('validation batches per evaluation', { min: 1, max: MAX_RANKS, default: 8 }) },
    'validation',
    { optional: true },
  ),
  bias_rate: scalarSchedule(
    'router bias update speed γ for every router with bias balancing (overrides their `rate`); a number, or breakpoints `[fraction -> value, …]` as DeepSeek-V3 set γ to 0 for the last 500B tokens',
  ),
  mtp_weight: scalarSchedule('MTP loss weight λ (overrides the model\'s `mtp.weight`); a number, or breakpoints `[fraction -> value, …]`, e.g. `[0% -> 0.3, 71% -> 0.1]`'),
} satisfies Record<string, FieldSpec>;

const sampling = {
  max_new_tokens: int('tokens generated at most per completion', { min: 1, max: MAX_TOKENS, default: 64 }),
  temperature: num('sampling temperature; 0 = greedy', { min: 0, default: 1 }),
  top_k: int('sample among the k most likely tokens; 0 = off', { min: 0, max: MAX_VOCAB, default: 0 }),
  top_p: num('nucleus sampling mass', { min: 0, max: 1, exclusiveMin: true, default: 1 }),
  min_p: num('drop tokens below min_p × the top probability', { min: 0, max: 1, default: 0 }),
  repetition_penalty: num('penalty on tokens already present (1 = off)', { min: 0, exclusiveMin: true, default: 1 }),
  stop: list(str('stop string'), 'generation stops at any of these strings', { default: [] }),
} satisfies Record<string, FieldSpec>;

const prompts = ref(['data'], 'prompt set (JSONL with a prompt field)', { optional: true });

export const stageSpecs: Readonly<Record<StageKindName, BlockSpec>> = {
  pretrain: block(
    {
      ...common,
      ...training,
      data: ref(['data'], 'training corpus'),
      batch: qty(['sequences', 'tokens'], 'global batch', { integer: true, min: 1, max: { sequences: MAX_RANKS, tokens: MAX_TRAIN_TOKENS } }),
    },
    'next-token pretraining',
  ),
  sft: block(
    {
      ...common,
      ...training,
      // a `sample` stage: train on the completions it kept (rejection sampling → SFT)
      data: ref(['data', 'sample'], 'prompt/completion pairs (loss on the completion only), or a `sample` stage whose kept completions it trains on'),
      batch: qty(['sequences', 'tokens'], 'global batch', {
        integer: true,
        min: 1,
        max: { sequences: MAX_RANKS, tokens: MAX_TRAIN_TOKENS },
        default: quantity(32, 'sequences'),
      }),
    },
    'supervised fine-tuning (cold start)',
  ),
  grpo: block(
    {
      ...common,
      ...training,
      ...sampling,
      prompts,
      reward: ref(['reward'], 'the reward scoring each completion'),
      group: int('completions sampled per prompt', { min: 2, max: MAX_GROUP, default: 8 }),
      batch: qty(['prompts'], 'prompts per rollout batch', { integer: true, min: 1, max: { prompts: MAX_RANKS }, default: quantity(16, 'prompts') }),
      clip: union(
        [num('ε', { min: 0, exclusiveMin: true }), list(num('ε', { min: 0, exclusiveMin: true }), '[ε_low, ε_high]', { length: 2 })],
        'PPO clip range: `ε` or `[ε_low, ε_high]` (clip-higher)',
        // the GRPO paper's ε, both sides
        { default: 0.2 },
      ),
      kl: num('β: weight of the k3 KL estimate against the frozen reference policy', { min: 0, default: 0.04 }),
      iterations: int('policy updates per rollout batch (μ)', { min: 1, max: MAX_GROUP, default: 1 }),
      loss: oneOf(['grpo', 'dr_grpo', 'dapo'], 'loss normalisation', { default: 'grpo' }),
      scale: oneOf(['group', 'batch', 'none'], 'advantage standardisation', { default: 'group' }),
      mask_truncated: bool('drop completions cut at max_new_tokens from the loss', { default: false }),
    },
    'group relative policy optimisation with rule rewards',
  ),
  sample: block(
    {
      ...common,
      ...sampling,
      prompts,
      reward: ref(['reward'], 'the reward used to pick completions'),
      n: int('completions per prompt', { min: 1, max: MAX_GROUP, default: 16 }),
      keep: oneOf(['best', 'all'], 'keep the best completion per prompt or all above min_reward', { default: 'best' }),
      min_reward: num('lowest reward kept', { min: 0, max: 1, default: 0 }),
    },
    'rejection sampling: writes JSONL an `sft` stage can consume',
  ),
  generate: block(
    {
      ...common,
      ...sampling,
      temperature: num('sampling temperature; 0 = greedy', { min: 0, default: 0 }),
      prompt: str('a single prompt', { optional: true }),
      prompts,
    },
    'inference',
  ),
  eval: block(
    {
      ...common,
      ...sampling,
      temperature: num('sampling temperature; 0 = greedy', { min: 0, default: 0 }),
      prompts,
      reward: ref(['reward'], 'the reward whose rules score each completion'),
      n: int('completions per prompt; accuracy is pass@n (a prompt counts when any of its n completions is right)', { min: 1, max: MAX_GROUP, default: 1 }),
      answer: str('the reward rule that decides whether a completion is right (default: the reward\'s one rule of kind `answer`)', {
        word: true,
        optional: true,
      }),
    },
    'held-out evaluation: accuracy and each reward rule\'s mean on the prompts, for the `from` policy',
  ),
};
