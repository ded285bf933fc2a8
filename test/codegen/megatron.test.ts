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
    expect(text).toContain('torchrun --nproc_per_node=8 --nnodes=256 --node_rank="$NODE_RANK"');
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
      '--seed': '0',
      '--tensor-model-parallel-size': '1',
      '--pipeline-model-parallel-size': '16',
      '--expert-model-parallel-size': '64',
      '--decoder-first-pipeline-num-layers': '3',
      '--decoder-last-pipeline-num-layers': '2',
      '--use-distributed-optimizer': '',
      '--recompute-granularity': 'full',
      '--data-path': '"$DATA_PATH"',
      '--tokenizer-model': '"$TOKENIZER"',
    });
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
