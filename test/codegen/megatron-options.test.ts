/**
 * Every flag `--emit megatron` can write exists in Megatron-Core, and takes a value exactly when the
 * script gives it one. The option list is test/fixtures/megatron/options.json: the options of
 * Megatron-LM's own parser (add_megatron_arguments), read once by bench/megatron/options.py at the
 * commit it names. The scripts: the examples with a cluster, the bench smoke specs, and specs that
 * take each branch of compiler/codegen/megatron.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeHost } from '../../compiler/bind/node-host.js';
import { checkFile } from '../../compiler/check/index.js';
import { megatronScript } from '../../compiler/codegen/megatron.js';
import { lowerSpec } from '../../compiler/lower/index.js';
import type { GraphDocument } from '../../ir/types.js';
import { example, lowerText, root } from './helpers.js';

interface OptionsFixture {
  readonly commit: string;
  readonly version: string;
  readonly options: { readonly [flag: string]: boolean };
}

const fixture = JSON.parse(readFileSync(join(root, 'test/fixtures/megatron/options.json'), 'utf8')) as OptionsFixture;

/** A Megatron flag as the script hands it over: with a value or alone. */
interface Use {
  readonly flag: string;
  readonly hasValue: boolean;
}

/**
 * The Megatron flags of a script's words: the array lines (`  --flag value  # comment`) and the
 * arrays the header fills (`X=(--flag value ...)`). torchrun's own flags (`--nnodes="$NNODES"`) are
 * written with `=` and are not Megatron's.
 */
function megatronUses(text: string): Use[] {
  const uses: Use[] = [];
  const words = (s: string): string[] => s.trim().split(/\s+/).filter(Boolean);
  const take = (ws: readonly string[]): void => {
    ws.forEach((w, i) => {
      if (!/^--[a-z][a-z0-9-]*$/.test(w)) return;
      const next = ws[i + 1];
      uses.push({ flag: w, hasValue: next !== undefined && !next.startsWith('--') });
    });
  };
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line)) continue;
    const code = line.replace(/\s#\s.*$/, '');
    for (const m of code.matchAll(/[A-Z_]+=\(([^)]*)\)/g)) take(words(m[1]!));
    if (/^ {2}--/.test(code)) take(words(code));
  }
  return uses;
}

function scriptOf(doc: GraphDocument, stage: string): string {
  const plan = doc.plan.stages.find((s) => s.name === stage);
  if (!plan) throw new Error(`no stage ${stage}`);
  const result = megatronScript(doc, plan);
  if (!result.ok) throw new Error(result.reason);
  return result.text;
}

const bench = (name: string): GraphDocument => lowerSpec(checkFile(join(root, 'bench/megatron', `${name}.moe`), nodeHost), root);

const MODEL = (attention: string, rope: string, layers: string, extra = ''): string => `model B {
  vocab = 512
  dim = 64
  layers = 4
  context = 256
  ${rope}
  ${attention}
${layers}
${extra}
}
`;
const GQA = 'attention gqa { heads = 4, kv_heads = 2 }';
const MHA = 'attention gqa { heads = 4, kv_heads = 4 }';
const MLA_NO_Q = 'attention mla { heads = 4, q_rank = 0, kv_rank = 16, nope_dim = 8, rope_dim = 8, v_dim = 16 }';
const SOFTMAX_PLAIN = `  layers 0..3 { moe { experts = 4, hidden = 32, top_k = 2, router { score = softmax, normalize = false, z_loss = 1e-3, capacity = 1.25 } } }`;
const SIGMOID_UNNORMALISED = `  layers 0..0 { ffn swiglu { hidden = 128 } }
  layers 1..3 { moe { experts = 8, hidden = 32, top_k = 2, router { score = sigmoid, normalize = false, groups = 4, top_groups = 2, balance = bias { rate = 1e-3 } } } }`;
const DENSE = '  layers 0..3 { ffn swiglu { hidden = 128 } }';
const STAGE = (body: string, extra = ''): string => `cluster c { devices = 8, memory = 80GiB }
tokenizer t { kind = byte }
data d { synthetic = arithmetic { samples = 10 }, split { valid = 5% } }
${extra}
pretrain p {
  model = B, data = d, tokenizer = t, seq_len = 64, batch = 16 sequences, steps = 100, on = c
${body}
}
`;

/** Specs that, together with the examples, take every branch of the emitter that writes a flag. */
const BRANCHES: { readonly name: string; readonly text: string }[] = [
  {
    name: 'GQA, linear rope scaling, softmax without renormalisation, capacity, z-loss, fp16, full recompute, tensor and expert parallel',
    text:
      MODEL(GQA, 'rope { theta = 10000, scaling linear { factor = 2 } }', SOFTMAX_PLAIN) +
      STAGE(`  precision = fp16
  schedule multistep { warmup = 5 steps, decay = [50% -> 0.1] }
  parallel { data = 2, tensor = 2, pipeline = 2, expert = 2, micro_batches = 2, zero = 2, recompute = full, first_stage_layers = 1, last_stage_layers = 3 }`),
  },
  {
    name: 'MHA, YaRN for GQA, a dense model, constant schedule, fp32',
    text:
      MODEL(MHA, 'rope { theta = 10000, scaling yarn { factor = 4, original_context = 64 } }', DENSE) +
      STAGE(`  precision = fp32
  schedule constant { warmup = 2 steps }`),
  },
  {
    name: 'MLA without q compression, MLA YaRN, sigmoid without renormalisation, stage γ/λ schedules, a stage from a checkpoint',
    text:
      MODEL(MLA_NO_Q, 'rope { theta = 10000, scaling yarn { factor = 4, original_context = 64 } }', SIGMOID_UNNORMALISED, '  mtp { depth = 1, weight = 0.3 }') +
      STAGE(`  from = "ckpt/base"
  bias_rate = [0% -> 1e-3, 90% -> 0]
  mtp_weight = [0% -> 0.3, 50% -> 0.1]`),
  },
];

const scripts: { readonly name: string; readonly text: string }[] = [
  { name: 'examples/deepseek-v3.moe', text: scriptOf(example('deepseek-v3'), 'base') },
  { name: 'examples/mixtral.moe', text: scriptOf(example('mixtral'), 'continue') },
  { name: 'bench/megatron/mla-sigmoid-mtp.moe', text: scriptOf(bench('mla-sigmoid-mtp'), 'smoke') },
  { name: 'bench/megatron/gqa-softmax.moe', text: scriptOf(bench('gqa-softmax'), 'smoke') },
  ...BRANCHES.map((b) => ({ name: b.name, text: scriptOf(lowerText(b.text), 'p') })),
];

describe('megatron: every emitted flag is a Megatron-Core option', () => {
  it('reads a fixture of Megatron-Core 0.20 at a named commit', () => {
    expect(fixture.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(fixture.version).toMatch(/^0\.20\./);
    expect(fixture.options['--num-layers']).toBe(true);
    expect(fixture.options['--swiglu']).toBe(false);
  });

  for (const { name, text } of scripts) {
    it(`${name}: every flag exists and takes a value exactly when given one`, () => {
      const uses = megatronUses(text);
      expect(uses.length).toBeGreaterThan(40);
      const unknown = uses.filter((u) => !(u.flag in fixture.options)).map((u) => u.flag);
      expect(unknown).toEqual([]);
      const arity = uses.filter((u) => fixture.options[u.flag] !== u.hasValue).map((u) => `${u.flag} ${u.hasValue ? 'given a value' : 'given none'}`);
      expect(arity).toEqual([]);
    });
  }

  it('the scripts together write the flags of every branch', () => {
    const all = new Set(scripts.flatMap((s) => megatronUses(s.text).map((u) => u.flag)));
    for (const flag of [
      '--qk-layernorm', '--q-lora-rank', '--rope-type', '--mscale-all-dim', '--yarn-beta-fast', '--yarn-original-max-position-embeddings',
      '--rotary-seq-len-interpolation-factor', '--group-query-attention', '--moe-router-pre-softmax', '--moe-expert-capacity-factor',
      '--moe-token-drop-policy', '--moe-z-loss-coeff', '--moe-router-group-topk', '--moe-router-bias-update-rate', '--mtp-loss-scaling-factor',
      '--lr-wsd-decay-iters', '--lr-decay-iters', '--fp16', '--bf16', '--recompute-method', '--decoder-last-pipeline-num-layers',
      '--use-distributed-optimizer', '--moe-token-dispatcher-type', '--pretrained-checkpoint', '--split', '--make-vocab-size-divisible-by',
      '--mock-data', '--data-path', '--tokenizer-type', '--vocab-size', '--tokenizer-model',
    ]) {
      expect(all.has(flag), flag).toBe(true);
    }
  });

  it('the scripts kept in bench/megatron for the GPU machine (no node there) are the emitter\'s current output', () => {
    for (const name of ['mla-sigmoid-mtp', 'gqa-softmax']) {
      const kept = readFileSync(join(root, 'bench/megatron', `${name}.megatron.sh`), 'utf8');
      const now = scriptOf(bench(name), 'smoke');
      expect(kept, `${name}.megatron.sh is stale: node bin/moe.js compile bench/megatron/${name}.moe --emit megatron`).toBe(now);
    }
  });

  it('the one-GPU overrides of bench/megatron/run.sh are Megatron-Core options too', () => {
    const runner = readFileSync(join(root, 'bench/megatron/run.sh'), 'utf8');
    const block = /ONE_GPU=\(\n([\s\S]*?)\n\)/.exec(runner);
    expect(block).not.toBeNull();
    const uses = megatronUses(`X=(${block![1]!.replace(/\n/g, ' ')})`);
    expect(uses.map((u) => u.flag)).toContain('--transformer-impl');
    expect(uses.filter((u) => fixture.options[u.flag] !== u.hasValue).map((u) => u.flag)).toEqual([]);
  });
});
