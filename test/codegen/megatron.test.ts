/** `--emit megatron`: a torchrun script for Megatron-Core's pretrain_gpt.py per pretrain stage. */
import { spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EMITTERS } from '../../compiler/codegen/index.js';
import { layerPattern, megatronScript, pyNumber } from '../../compiler/codegen/megatron.js';
import { modelStructure } from '../../ir/structure.js';
import type { GraphDocument } from '../../ir/types.js';
import { DENSE, MOE, example, lowerText, onlyModel, tempDir, tinyModel } from './helpers.js';

function script(doc: GraphDocument, stage: string): string {
  const plan = doc.plan.stages.find((s) => s.name === stage)!;
  const result = megatronScript(doc, plan);
  if (!result.ok) throw new Error(result.reason);
  return result.text;
}

/** The flags of a script as `flag value` pairs (a flag without value maps to ''). */
function flags(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^ {2}(--[a-z0-9-]+)(?: ([^ #][^#]*?))?\s*(?:#.*)?$/.exec(line);
    if (m) out.set(m[1]!, m[2] ?? '');
  }
  return out;
}

const hasBash = spawnSync('bash', ['--version']).status === 0;

describe('megatron: DeepSeek-V3 pretraining', () => {
  const text = script(example('deepseek-v3'), 'base');
  const f = flags(text);

  it('launches pretrain_gpt.py with torchrun on 256 nodes of 8 GPUs', () => {
    expect(text.startsWith('#!/usr/bin/env bash\n')).toBe(true);
    expect(text).toContain('NPROC_PER_NODE=${NPROC_PER_NODE:-8}\nNNODES=${NNODES:-256}\n');
    expect(text).toContain('torchrun --nproc_per_node="$NPROC_PER_NODE" --nnodes="$NNODES" --node_rank="$NODE_RANK"');
    expect(text).toContain('"$MEGATRON_LM/pretrain_gpt.py"');
    expect(text).toContain('DATA_PATH=${DATA_PATH:?');
    expect(text).toContain('TOKENIZER=${TOKENIZER:?');
  });

  it('has the architecture flags with the model numbers', () => {
    expect(Object.fromEntries(f)).toMatchObject({
      '--num-layers': '61',
      '--hidden-size': '7168',
      '--ffn-hidden-size': '18432',
      '--num-attention-heads': '128',
      '--max-position-embeddings': '163840',
      '--normalization': 'RMSNorm',
      '--norm-epsilon': '0.000001',
      '--swiglu': '',
      '--untie-embeddings-and-output-weights': '',
      '--disable-bias-linear': '',
      '--rotary-base': '10000',
      '--rope-type': 'yarn',
      '--rotary-scaling-factor': '40.0',
      '--multi-latent-attention': '',
      '--q-lora-rank': '1536',
      '--kv-lora-rank': '512',
      '--qk-head-dim': '128',
      '--qk-pos-emb-head-dim': '64',
      '--v-head-dim': '128',
      '--mtp-num-layers': '1',
      '--mtp-loss-scaling-factor': '0.3',
    });
  });

  it('has the MoE flags', () => {
    expect(Object.fromEntries(f)).toMatchObject({
      '--num-experts': '256',
      '--moe-router-topk': '8',
      '--moe-ffn-hidden-size': '2048',
      '--moe-shared-expert-intermediate-size': '2048',
      '--moe-router-score-function': 'sigmoid',
      '--moe-router-num-groups': '8',
      '--moe-router-group-topk': '4',
      '--moe-router-topk-scaling-factor': '2.5',
      '--moe-router-enable-expert-bias': '',
      '--moe-router-bias-update-rate': '0.001',
      '--moe-router-load-balancing-type': 'seq_aux_loss',
      '--moe-aux-loss-coeff': '0.0001',
      '--moe-layer-freq': '"([0]*3+[1]*58)"',
    });
    expect(f.has('--moe-expert-capacity-factor')).toBe(false);
    expect(f.has('--moe-z-loss-coeff')).toBe(false);
  });

  it('has the training and parallel flags of the stage', () => {
    expect(Object.fromEntries(f)).toMatchObject({
      '--seq-length': '4096',
      '--micro-batch-size': '1',
      '--global-batch-size': '15360',
      '--train-iters': '235240',
      '--lr': '0.00022',
      '--lr-warmup-iters': '2000',
      '--weight-decay': '0.1',
      '--adam-beta1': '0.9',
      '--adam-beta2': '0.95',
      '--adam-eps': '1e-8',
      '--clip-grad': '1.0',
      '--bf16': '',
      '--seed': '1', // the spec's 0: Megatron refuses seeds that are not positive
      '--tensor-model-parallel-size': '1',
      '--pipeline-model-parallel-size': '16',
      '--expert-model-parallel-size': '64',
      '--decoder-first-pipeline-num-layers': '3',
      '--decoder-last-pipeline-num-layers': '2',
      '--use-distributed-optimizer': '',
      '--recompute-granularity': 'full',
    });
    expect(text).toContain('DATA_SOURCE=(--data-path "$DATA_PATH")');
    expect(text).toContain('TOKENIZER_ARGS=(--tokenizer-type HuggingFaceTokenizer --tokenizer-model "$TOKENIZER")');
  });

  it('turns the multistep schedule into the closest WSD, saying so', () => {
    expect(Object.fromEntries(f)).toMatchObject({
      '--lr-decay-style': 'WSD',
      '--lr-wsd-decay-style': 'minus_sqrt',
      '--lr-wsd-decay-iters': String(235240 - 157611),
      '--min-lr': pyNumber(2.2e-4 * 0.0333),
    });
    expect(text).toContain('# the spec\'s multistep schedule: lr × 0.1 from step 157611, × 0.0333 from step 230535.');
    expect(text).toContain('Megatron has no step schedule');
  });
});

describe('megatron: Mixtral continued pretraining', () => {
  const f = flags(script(example('mixtral'), 'continue'));

  it('uses GQA, softmax routing, the batch-wise aux loss and a cosine schedule', () => {
    expect(Object.fromEntries(f)).toMatchObject({
      '--group-query-attention': '',
      '--num-query-groups': '8',
      '--kv-channels': '128',
      '--rotary-base': '1000000',
      '--num-experts': '8',
      '--moe-router-topk': '2',
      '--moe-router-score-function': 'softmax',
      '--moe-router-load-balancing-type': 'aux_loss',
      '--moe-aux-loss-coeff': '0.02',
      '--moe-layer-freq': '"([1]*32)"',
      '--lr-decay-style': 'cosine',
      '--min-lr': '0.000001',
      '--lr-warmup-iters': '50',
      '--pipeline-model-parallel-size': '2',
      '--expert-model-parallel-size': '8',
      '--split': '98,2,0',
    });
    for (const absent of ['--multi-latent-attention', '--mtp-num-layers', '--moe-router-enable-expert-bias', '--moe-router-num-groups', '--moe-router-pre-softmax']) {
      expect(f.has(absent)).toBe(false);
    }
  });
});

describe('megatron: refusals and details', () => {
  it('refuses a spec whose pretrain stage has no cluster', async () => {
    expect(await EMITTERS.megatron(example('r1-tiny'))).toEqual({
      error: 'cannot write a Megatron script: no pretrain stage can be written for Megatron: stage base: has no cluster (on = CLUSTER)',
    });
  });

  it('refuses a spec without a pretrain stage', async () => {
    expect(await EMITTERS.megatron(example('deepseek-v2-lite'))).toEqual({
      error: 'cannot write a Megatron script: examples/deepseek-v2-lite.moe has no pretrain stage',
    });
  });

  it('writes STAGE.megatron.sh', async () => {
    const result = await EMITTERS.megatron(example('deepseek-v3'));
    expect('files' in result && result.files.map((x) => x.name)).toEqual(['base.megatron.sh']);
  });

  it('writes any layer pattern and plain RoPE for MLA without scaling', () => {
    const doc = lowerText(
      tinyModel(
        `  layers 0..0 { ${DENSE} }\n  layers 1..2 { ${MOE} }\n  layers 3..3 { ${DENSE} }`,
      ) +
        `cluster one { devices = 8, memory = 80GiB }
tokenizer bytes { kind = byte }
data text { synthetic = arithmetic { samples = 10 } }
pretrain p {
  model = Tiny
  data = text, tokenizer = bytes
  seq_len = 32, batch = 16 sequences, steps = 10
  on = one
}
`,
    );
    expect(layerPattern(modelStructure(onlyModel(doc)))).toBe('([0]*1+[1]*2+[0]*1)');
    const f = flags(script(doc, 'p'));
    expect(f.get('--rope-type')).toBe('rope');
    expect(f.get('--micro-batch-size')).toBe('2');
    expect(f.get('--lr-decay-style')).toBe('constant');
    expect(f.get('--recompute-granularity')).toBe('selective');
    expect(f.has('--q-lora-rank')).toBe(false);
    expect(f.has('--bf16')).toBe(false);
    expect(f.has('--use-distributed-optimizer')).toBe(false);
    expect(f.has('--moe-expert-capacity-factor')).toBe(false);
  });

  it('keeps a capacity factor, dropping by position as the IR does', () => {
    const capped = 'moe { experts = 4, hidden = 8, top_k = 2, router { score = softmax, capacity = 1.25, z_loss = 1e-3, aux_loss = batch { alpha = 0.01 } } }';
    const doc = lowerText(
      tinyModel(`  layers 0..3 { ${capped} }`) +
        `cluster one { devices = 8, memory = 80GiB }
tokenizer bytes { kind = byte }
data text { synthetic = arithmetic { samples = 10 } }
pretrain p { model = Tiny, data = text, tokenizer = bytes, seq_len = 32, batch = 8 sequences, steps = 10, on = one, precision = bf16 }
`,
    );
    const f = flags(script(doc, 'p'));
    expect(Object.fromEntries(f)).toMatchObject({
      '--moe-expert-capacity-factor': '1.25',
      '--moe-token-drop-policy': 'position',
      '--moe-z-loss-coeff': '0.001',
      '--moe-router-load-balancing-type': 'aux_loss',
      '--moe-aux-loss-coeff': '0.01',
      '--moe-layer-freq': '"([1]*4)"',
      '--bf16': '',
    });
  });

  describe('issue 20 features', () => {
    const doc = (attention: string, moe: string, extra = ''): GraphDocument =>
      lowerText(
        `model Tiny {
  vocab = 320, dim = 16, layers = 4, context = 32
  attention ${attention}
  layers 0..3 { ${moe} }
${extra}
}
cluster one { devices = 8, memory = 80GiB }
tokenizer bytes { kind = byte }
data text { synthetic = arithmetic { samples = 10 } }
pretrain p { model = Tiny, data = text, tokenizer = bytes, seq_len = 32, batch = 8 sequences, steps = 10, on = one }
`,
      );
    const gated = 'moe { experts = 4, shared = 2, shared_gate = true, hidden = 8, top_k = 2, router { score = softmax } }';

    it('q/k/v biases, per-head q/k norm and the shared-expert gate become their flags', () => {
      const f = flags(script(doc('gqa { heads = 4, kv_heads = 2, qkv_bias = true, qk_norm = head }', gated), 'p'));
      expect(Object.fromEntries(f)).toMatchObject({ '--add-qkv-bias': '', '--qk-layernorm': '', '--moe-shared-expert-gate': '', '--disable-bias-linear': '' });
      const plain = flags(script(doc('gqa { heads = 4, kv_heads = 2 }', MOE), 'p'));
      for (const flag of ['--add-qkv-bias', '--qk-layernorm', '--moe-shared-expert-gate', '--window-size', '--window-attn-skip-freq']) expect(plain.has(flag), flag).toBe(false);
    });

    it('a shared expert of its own width (`shared_hidden`) is --moe-shared-expert-intermediate-size', () => {
      const wide = 'moe { experts = 4, shared = 1, shared_hidden = 12, shared_gate = true, hidden = 8, top_k = 2, router { score = softmax } }';
      expect(flags(script(doc('gqa { heads = 4, kv_heads = 2 }', wide), 'p')).get('--moe-shared-expert-intermediate-size')).toBe('12');
      expect(flags(script(doc('gqa { heads = 4, kv_heads = 2 }', gated), 'p')).get('--moe-shared-expert-intermediate-size')).toBe('16');
    });

    it('a full-width q/k norm is the closest per-head flag with a WARNING', () => {
      const text = script(doc('mha { heads = 4, qk_norm = full }', MOE), 'p');
      expect(flags(text).has('--qk-layernorm')).toBe(true);
      expect(text).toContain('# WARNING: the spec normalises q and k over all heads at once (OLMoE)');
    });

    it('a sliding window on every layer is --window-size W-1,0; on some layers also the layer pattern', () => {
      const all = flags(script(doc('gqa { heads = 4, kv_heads = 2, window = 8 }', MOE), 'p'));
      expect(all.get('--window-size')).toBe('7,0');
      expect(all.has('--window-attn-skip-freq')).toBe(false);
      const some = flags(script(doc('gqa { heads = 4, kv_heads = 2, window = 8, window_layers = [0, 2] }', MOE), 'p'));
      expect(some.get('--window-size')).toBe('7,0');
      expect(some.get('--window-attn-skip-freq')).toBe('"[1,0,1,0]"');
    });

    it('warns that Megatron windows the MTP modules the spec attends fully with', () => {
      const text = script(doc('mla { heads = 2, kv_rank = 8, nope_dim = 4, rope_dim = 4, v_dim = 4, window = 8 }', MOE, '  mtp { depth = 1 }'), 'p');
      expect(flags(text).get('--window-size')).toBe('7,0');
      expect(text).toContain("# WARNING: the spec's MTP modules attend fully; Megatron applies --window-size to them too");
    });
  });

  it('warns where Megatron scores expert groups differently from the spec', () => {
    const spec = (balance: string): GraphDocument =>
      lowerText(
        tinyModel(`  layers 0..3 { moe { experts = 8, hidden = 8, top_k = 2, router { score = sigmoid, groups = 4, top_groups = 2${balance} } } }`) +
          `cluster one { devices = 8, memory = 80GiB }
tokenizer bytes { kind = byte }
data text { synthetic = arithmetic { samples = 10 } }
pretrain p { model = Tiny, data = text, tokenizer = bytes, seq_len = 32, batch = 8 sequences, steps = 10, on = one }
`,
      );
    // with the bias the spec sums each group's top 2 scores; Megatron sums the top 2 // 2 = 1
    expect(script(spec(', balance = bias { rate = 1e-3 }'), 'p')).toContain(
      '# WARNING: the spec scores an expert group by the sum of its top-2 scores; Megatron by the sum of its top topk // group_topk = 1',
    );
    // without it the spec takes each group's best score, as Megatron does here
    expect(script(spec(''), 'p')).not.toContain('WARNING');
  });

  it('passes a seed of 0 as 1, saying so: Megatron refuses a seed that is not positive (measured on 0.20)', () => {
    const spec = (seed: number): GraphDocument =>
      lowerText(
        tinyModel('  layers 0..3 { ffn swiglu { hidden = 8 } }') +
          `cluster one { devices = 8, memory = 80GiB }
tokenizer bytes { kind = byte }
data text { synthetic = arithmetic { samples = 10 } }
pretrain p { model = Tiny, data = text, tokenizer = bytes, seq_len = 32, batch = 8 sequences, steps = 10, on = one, seed = ${seed} }
`,
      );
    const zero = script(spec(0), 'p');
    expect(flags(zero).get('--seed')).toBe('1');
    expect(zero).toMatch(/ {2}--seed 1 +# the spec's seed 0: Megatron takes positive seeds only\n/);
    const five = script(spec(5), 'p');
    expect(flags(five).get('--seed')).toBe('5');
    expect(five).not.toContain('positive seeds');
  });

  it.runIf(hasBash)('is a valid bash script that hands every flag to torchrun as one word', () => {
    const dir = tempDir('moe-megatron-');
    const path = join(dir, 'base.megatron.sh');
    writeFileSync(path, script(example('deepseek-v3'), 'base'));
    expect(spawnSync('bash', ['-n', path], { encoding: 'utf8' }).stderr).toBe('');
    // a stand-in torchrun that prints its arguments, one per line
    const fake = join(dir, 'torchrun');
    writeFileSync(fake, '#!/usr/bin/env bash\nprintf "%s\\n" "$@"\n');
    chmodSync(fake, 0o755);
    const run = spawnSync('bash', [path], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${dir}:${process.env.PATH ?? ''}`, DATA_PATH: '/data/web_text_document', TOKENIZER: '/tok', NODE_RANK: '3' },
    });
    expect(run.stderr).toBe('');
    const args = run.stdout.trim().split('\n');
    expect(args.slice(0, 6)).toEqual(['--nproc_per_node=8', '--nnodes=256', '--node_rank=3', '--master_addr=localhost', '--master_port=6000', '/opt/Megatron-LM/pretrain_gpt.py']);
    const after = (flag: string): string | undefined => args[args.indexOf(flag) + 1];
    expect(after('--moe-layer-freq')).toBe('([0]*3+[1]*58)');
    expect(after('--data-path')).toBe('/data/web_text_document');
    expect(after('--num-experts')).toBe('256');
    expect(args.filter((a) => a.startsWith('--')).length).toBeGreaterThan(60);
  });

  it.runIf(hasBash)('takes overrides after its flags, mock data and the NullTokenizer for a smoke run', () => {
    const dir = tempDir('moe-megatron-');
    const path = join(dir, 'base.megatron.sh');
    writeFileSync(path, script(example('deepseek-v3'), 'base'));
    const fake = join(dir, 'torchrun');
    writeFileSync(fake, '#!/usr/bin/env bash\nprintf "%s\\n" "$@"\n');
    chmodSync(fake, 0o755);
    const env = { ...process.env, PATH: `${dir}:${process.env.PATH ?? ''}`, DATA_PATH: 'mock', TOKENIZER: 'null', NPROC_PER_NODE: '1', NNODES: '1' };
    const run = spawnSync('bash', [path, '--log-interval', '1'], { encoding: 'utf8', env: { ...env, MEGATRON_EXTRA_ARGS: '--train-iters 20  --transformer-impl local' } });
    expect(run.stderr).toBe('');
    const args = run.stdout.trim().split('\n');
    expect(args.slice(0, 2)).toEqual(['--nproc_per_node=1', '--nnodes=1']);
    expect(args).toContain('--mock-data');
    expect(args).not.toContain('--data-path');
    const after = (flag: string): string | undefined => args[args.indexOf(flag) + 1];
    expect(after('--tokenizer-type')).toBe('NullTokenizer');
    expect(after('--vocab-size')).toBe('129280');
    expect(args).not.toContain('--tokenizer-model');
    // the extra words and then the script's arguments come last, so Megatron keeps their values
    expect(args.slice(-6)).toEqual(['--train-iters', '20', '--transformer-impl', 'local', '--log-interval', '1']);
    // without overrides nothing is appended
    const plain = spawnSync('bash', [path], { encoding: 'utf8', env });
    expect(plain.stdout.trim().split('\n').at(-1)).toBe('8');
  });

  it.runIf(hasBash)('stops with a message when DATA_PATH is not set', () => {
    const dir = tempDir('moe-megatron-');
    const path = join(dir, 'continue.megatron.sh');
    writeFileSync(path, script(example('mixtral'), 'continue'));
    const env = { ...process.env };
    delete env.DATA_PATH;
    const run = spawnSync('bash', [path], { encoding: 'utf8', env });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('DATA_PATH: set DATA_PATH to the Megatron-preprocessed prefix of data corpus (data/corpus.txt)');
  });
});

/**
 * The checks of Megatron-Core's `validate_args` (megatron/training/arguments.py, 0.20) and of the
 * config and batch calculator it builds that a script's flags decide on their own, given the world
 * size of its torchrun line. Each returns the rule broken, or nothing.
 */
function validateArgs(text: string): string[] {
  const f = flags(text);
  const launch = /NPROC_PER_NODE=\$\{NPROC_PER_NODE:-(\d+)\}\nNNODES=\$\{NNODES:-(\d+)\}/.exec(text);
  if (!launch) return ['no torchrun line'];
  const world = Number(launch[1]) * Number(launch[2]);
  const int = (flag: string, fallback: number): number => (f.has(flag) ? Number(f.get(flag)) : fallback);
  const tp = int('--tensor-model-parallel-size', 1);
  const pp = int('--pipeline-model-parallel-size', 1);
  const ep = int('--expert-model-parallel-size', 1);
  const broken: string[] = [];
  const rule = (ok: boolean, what: string): void => {
    if (!ok) broken.push(what);
  };
  rule(!f.has('--save') || int('--save-interval', 0) > 0, '--save needs --save-interval > 0');
  rule(world % (tp * pp) === 0, 'world size divisible by tensor × pipeline');
  const dp = world / (tp * pp);
  // expert tensor parallel defaults to tensor parallel
  rule((world / pp) % (ep * tp) === 0, 'world / pipeline divisible by expert × expert-tensor parallel');
  rule(int('--global-batch-size', 0) % (int('--micro-batch-size', 0) * dp) === 0, 'global batch divisible by micro batch × data parallel');
  rule(int('--max-position-embeddings', 0) >= int('--seq-length', 0), 'max position embeddings >= seq length');
  rule(int('--num-attention-heads', 0) % tp === 0, 'heads divisible by tensor parallel');
  rule(!f.has('--num-query-groups') || int('--num-query-groups', 0) % tp === 0, 'query groups divisible by tensor parallel');
  rule(!f.has('--num-experts') || int('--num-experts', 0) % ep === 0, 'experts divisible by expert parallel');
  rule(!f.has('--moe-router-group-topk') || f.has('--moe-router-num-groups'), '--moe-router-group-topk needs --moe-router-num-groups');
  rule(!f.has('--moe-router-num-groups') || int('--num-experts', 0) % int('--moe-router-num-groups', 1) === 0, 'experts divisible by router groups');
  rule(!(f.has('--bf16') && f.has('--fp16')), 'not both --bf16 and --fp16');
  rule(!f.has('--eval-iters') || int('--eval-interval', 0) > 0, '--eval-iters needs --eval-interval > 0');
  const layers = int('--num-layers', 0);
  const first = f.has('--decoder-first-pipeline-num-layers') ? 1 : 0;
  const last = f.has('--decoder-last-pipeline-num-layers') ? 1 : 0;
  const middle = layers - int('--decoder-first-pipeline-num-layers', 0) - int('--decoder-last-pipeline-num-layers', 0);
  rule(pp - first - last === 0 ? middle === 0 : middle % (pp - first - last) === 0, 'layers split evenly over the pipeline stages');
  return broken;
}

/** Megatron-Core's `_vocab_size_with_padding`: the tokenizer's size up to a multiple of divisor × TP. */
function megatronVocab(tokens: number, divisor: number, tp: number): number {
  const multiple = divisor * tp;
  return Math.ceil(tokens / multiple) * multiple;
}

const SCHEDULED = (stage: string): string =>
  tinyModel(
    `  layers 0..3 { moe { experts = 4, hidden = 8, top_k = 2, router { score = sigmoid, balance = bias { rate = 1e-3 } } } }`,
    '  mtp { depth = 1, weight = 0.3 }',
  ) +
  `cluster one { devices = 8, memory = 80GiB }
tokenizer bytes { kind = byte }
data text { synthetic = arithmetic { samples = 10 } }
pretrain p {
  model = Tiny, data = text, tokenizer = bytes, seq_len = 32, batch = 8 sequences, steps = 100, on = one
${stage}
}
`;

describe('megatron: what the stage and the spec set reaches the script', () => {
  it('passes the validate_args rules for the declared clusters of both examples', () => {
    expect(validateArgs(script(example('deepseek-v3'), 'base'))).toEqual([]);
    expect(validateArgs(script(example('mixtral'), 'continue'))).toEqual([]);
    expect(flags(script(example('mixtral'), 'continue')).get('--save-interval')).toBe('500');
  });

  it('emits the stage\'s scalar bias_rate γ and mtp_weight λ over the model\'s', () => {
    const f = flags(script(lowerText(SCHEDULED('  bias_rate = 0.002\n  mtp_weight = 0.1')), 'p'));
    expect(f.get('--moe-router-bias-update-rate')).toBe('0.002');
    expect(f.get('--mtp-loss-scaling-factor')).toBe('0.1');
    // without them, the model's
    const model = flags(script(lowerText(SCHEDULED('')), 'p'));
    expect(model.get('--moe-router-bias-update-rate')).toBe('0.001');
    expect(model.get('--mtp-loss-scaling-factor')).toBe('0.3');
  });

  it('turns γ and λ schedules into the constant held longest, with a WARNING stating the difference', () => {
    const text = script(lowerText(SCHEDULED('  bias_rate = [0% -> 1e-3, 90% -> 0]\n  mtp_weight = [0% -> 0.3, 20% -> 0.1]')), 'p');
    const f = flags(text);
    // γ 0.001 for 90 of 100 steps; λ 0.1 for 80 of 100
    expect(f.get('--moe-router-bias-update-rate')).toBe('0.001');
    expect(f.get('--mtp-loss-scaling-factor')).toBe('0.1');
    expect(text).toContain("# WARNING: the spec's bias_rate γ schedule is 0.001 from step 0, 0 from step 90; Megatron holds --moe-router-bias-update-rate constant:");
    expect(text).toContain('# 0.001, the value of 90 of the 100 steps. To follow the schedule, stop at');
    expect(text).toContain('# step 90 (then --moe-router-bias-update-rate 0.0) with --exit-interval and resume from the checkpoint with the new value.');
    expect(text).toContain("# WARNING: the spec's mtp_weight λ schedule is 0.3 from step 0, 0.1 from step 20; Megatron holds --mtp-loss-scaling-factor constant:");
    expect(text).toContain('# step 20 (then --mtp-loss-scaling-factor 0.1) with --exit-interval');
  });

  it('keeps the RMSNorms of MLA\'s q and kv latents, warning where their eps differs from --norm-epsilon', () => {
    const v3 = script(example('deepseek-v3'), 'base');
    expect(flags(v3).has('--qk-layernorm')).toBe(true);
    expect(v3).not.toContain('normalises the latents');
    const tiny = script(lowerText(SCHEDULED('').replace('model Tiny {', 'model Tiny {\n  norm rmsnorm { eps = 1e-5 }')), 'p');
    expect(flags(tiny).has('--qk-layernorm')).toBe(true);
    expect(tiny).toContain('# WARNING: the spec normalises the latents with eps 0.000001; Megatron uses --norm-epsilon 0.00001 there too');
    expect(flags(script(example('mixtral'), 'continue')).has('--qk-layernorm')).toBe(false);
  });

  it('routes in fp32, as the spec\'s router computes', () => {
    expect(flags(script(example('deepseek-v3'), 'base')).get('--moe-router-dtype')).toBe('fp32');
    expect(flags(script(example('mixtral'), 'continue')).get('--moe-router-dtype')).toBe('fp32');
  });

  it('uses Megatron-Core\'s YaRN for GQA with every YaRN number, and says it needs 0.19', () => {
    const doc = lowerText(`model G {
  vocab = 384
  dim = 16
  layers = 2
  context = 64
  rope { theta = 10000, scaling yarn { factor = 4, original_context = 16, beta_fast = 16, beta_slow = 2, mscale = 1, mscale_all_dim = 0 } }
  attention gqa { heads = 4, kv_heads = 2 }
  layers 0..1 { ffn swiglu { hidden = 32 } }
}
cluster one { devices = 1, memory = 80GiB }
tokenizer bytes { kind = byte }
data text { synthetic = arithmetic { samples = 10 } }
pretrain p { model = G, data = text, tokenizer = bytes, seq_len = 64, batch = 8 sequences, steps = 10, on = one }
`);
    const text = script(doc, 'p');
    expect(Object.fromEntries(flags(text))).toMatchObject({
      '--position-embedding-type': 'yarn',
      '--rotary-scaling-factor': '4.0',
      '--mscale': '1.0',
      '--mscale-all-dim': '0.0',
      '--yarn-original-max-position-embeddings': '16',
      '--yarn-beta-fast': '16.0',
      '--yarn-beta-slow': '2.0',
    });
    expect(text).not.toContain('WARNING');
    expect(text).toContain('# Needs Megatron-Core >= 0.19 (--yarn-beta-fast/--yarn-beta-slow; 0.18 added --position-embedding-type yarn)');
  });

  it('states the Megatron-Core version range in the header', () => {
    for (const text of [script(example('deepseek-v3'), 'base'), script(example('mixtral'), 'continue')]) {
      const header = text.split('set -euo pipefail')[0]!;
      expect(header).toContain('# Needs Megatron-Core >= 0.14 (--rope-type; older versions were not checked); its flags were checked against 0.20.');
    }
  });

  it('pads the tokenizer\'s vocabulary to the spec\'s vocab, as Megatron-Core computes it', () => {
    // DeepSeek-V3: a BPE of 128000 tokens; the default 128 would give 128000, not 129280
    const v3 = flags(script(example('deepseek-v3'), 'base'));
    expect(megatronVocab(128_000, Number(v3.get('--make-vocab-size-divisible-by')), 1)).toBe(129_280);
    // Mixtral's stage trains on bytes: 259 tokens, vocab 32000
    const mixtral = flags(script(example('mixtral'), 'continue'));
    expect(megatronVocab(259, Number(mixtral.get('--make-vocab-size-divisible-by')), 1)).toBe(32_000);
    // where the default already lands on vocab it is kept: bytes padded to 384 with tensor 1
    const spec = (vocab: number, parallel: string): string =>
      tinyModel(`  layers 0..3 { ${MOE} }`).replace('vocab   = 320', `vocab = ${vocab}`) +
      `cluster two { devices = 2, memory = 80GiB }
tokenizer bytes { kind = byte }
data text { synthetic = arithmetic { samples = 10 } }
pretrain p { model = Tiny, data = text, tokenizer = bytes, seq_len = 32, batch = 8 sequences, steps = 10, on = two, parallel { ${parallel} } }
`;
    expect(flags(script(lowerText(spec(384, 'data = 2')), 'p')).get('--make-vocab-size-divisible-by')).toBe('128');
    // tensor 2: 128 × 2 = 256 would pad 259 to 512
    const tp2 = flags(script(lowerText(spec(384, 'data = 1, tensor = 2')), 'p'));
    expect(megatronVocab(259, Number(tp2.get('--make-vocab-size-divisible-by')), 2)).toBe(384);
  });
});
