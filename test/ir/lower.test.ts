/**
 * Lowering every example: schema-valid, verified, HF parameter names and shapes, and parameter
 * totals equal to the statistics (so the graph and the numbers the checker prints agree).
 * The committed graphs under test/golden-ir are the reviewed form of the IR; refresh them with
 * `UPDATE_GOLDEN=1 npx vitest run test/ir` and review the diff.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeHost } from '../../compiler/bind/node-host.js';
import { checkFile } from '../../compiler/check/index.js';
import { specStats } from '../../compiler/check/stats.js';
import { lowerSpec } from '../../compiler/lower/index.js';
import { validateGraph } from '../../ir/validate.js';
import { verifyDocument } from '../../ir/verify.js';
import type { GraphDocument, ModelGraph } from '../../ir/types.js';
import { checkText } from '../helpers.js';

const repo = join(import.meta.dirname, '..', '..');
const examples = readdirSync(join(repo, 'examples')).filter((f) => f.endsWith('.moe'));

function lower(file: string): GraphDocument {
  return lowerSpec(checkFile(join(repo, 'examples', file), nodeHost), repo);
}

/** Parameters as HF counts them: stacked entries × stack, MTP layers (index ≥ layers) apart. */
function paramTotal(model: ModelGraph): { main: number; mtp: number } {
  const layers = model.config.layers as number;
  let main = 0;
  let mtp = 0;
  for (const p of model.params) {
    const n = p.shape.reduce((a, b) => a * b, 1) * (p.stack ?? 1);
    const layer = /^model\.layers\.(\d+)\./.exec(p.name);
    if (layer && Number(layer[1]) >= layers) mtp += n;
    else main += n;
  }
  return { main, mtp };
}

describe('lowering the examples', () => {
  for (const file of examples) {
    describe(file, () => {
      const doc = lower(file);
      const stats = specStats(checkFile(join(repo, 'examples', file), nodeHost).context);

      it('is valid against the JSON Schema and passes the verifier', () => {
        expect(validateGraph(doc)).toEqual([]);
        expect(verifyDocument(doc)).toEqual([]);
      });

      it('has exactly the parameters the statistics count (main model and MTP apart)', () => {
        for (const model of doc.models) {
          const expected = stats.models.find((m) => m.model === model.name)!.params;
          const total = paramTotal(model);
          expect(total.main).toBe(expected.total);
          expect(total.mtp).toBe(expected.mtp.total);
        }
      });

      it('points every node back at its .moe source line', () => {
        for (const model of doc.models) {
          for (const node of model.nodes) {
            expect(node.loc.file).toBe(`examples/${file}`);
            expect(node.loc.line).toBeGreaterThan(0);
          }
        }
      });

      it('matches the committed graph (test/golden-ir)', () => {
        const path = join(repo, 'test', 'golden-ir', file.replace(/\.moe$/, '.graph.json'));
        const text = `${JSON.stringify(doc, null, 1)}\n`;
        if (process.env.UPDATE_GOLDEN === '1' || !existsSync(path)) writeFileSync(path, text);
        expect(text).toBe(readFileSync(path, 'utf8'));
      });
    });
  }
});

describe('the DeepSeek-V3 graph', () => {
  const doc = lower('deepseek-v3.moe');
  const model = doc.models[0]!;
  const param = (name: string) => model.params.find((p) => p.name === name);

  it('uses HF deepseek_v3 parameter names and shapes', () => {
    expect(param('model.embed_tokens.weight')?.shape).toEqual([129280, 7168]);
    expect(param('model.layers.0.self_attn.q_a_proj.weight')?.shape).toEqual([1536, 7168]);
    expect(param('model.layers.0.self_attn.kv_a_proj_with_mqa.weight')?.shape).toEqual([576, 7168]);
    expect(param('model.layers.0.self_attn.kv_b_proj.weight')?.shape).toEqual([128 * 256, 512]);
    expect(param('model.layers.0.mlp.gate_proj.weight')?.shape).toEqual([18432, 7168]);
    expect(param('model.layers.3.mlp.gate.weight')?.shape).toEqual([256, 7168]);
    expect(param('model.layers.3.mlp.experts.{j}.down_proj.weight')).toMatchObject({ shape: [7168, 2048], stack: 256 });
    expect(param('model.layers.3.mlp.shared_experts.up_proj.weight')?.shape).toEqual([2048, 7168]);
    expect(param('model.layers.61.eh_proj.weight')?.shape).toEqual([7168, 14336]);
    expect(param('lm_head.weight')?.shape).toEqual([129280, 7168]);
  });

  it('keeps the router bias as state, not a parameter', () => {
    expect(model.state.map((s) => s.name)).toContain('model.layers.3.mlp.gate.e_score_correction_bias');
    expect(param('model.layers.3.mlp.gate.e_score_correction_bias')).toBeUndefined();
  });

  it('routes with the spec\'s group limits and folds YaRN into the softmax scale', () => {
    const router = model.nodes.find((n) => n.op === 'moe.router')!;
    expect(router.attrs).toMatchObject({ experts: 256, top_k: 8, groups: 8, top_groups: 4, score: 'sigmoid', scale: 2.5, bias_rate: 0.001 });
    const attention = model.nodes.find((n) => n.op === 'attention.mla')!;
    const mscale = 0.1 * 1 * Math.log(40) + 1;
    expect(attention.attrs.softmax_scale).toBeCloseTo((1 / Math.sqrt(192)) * mscale * mscale, 12);
  });

  it('sums the losses with the MTP weight λ / depth', () => {
    const sum = model.nodes.find((n) => n.op === 'loss.sum')!;
    expect(sum.inputs.slice(0, 2)).toEqual(['loss.main', 'mtp.1.loss']);
    expect((sum.attrs.weights as number[]).slice(0, 2)).toEqual([1, 0.3]);
  });

  it('lowers the plan with schedules evaluated to steps', () => {
    const base = doc.plan.stages.find((s) => s.name === 'base')!;
    // 14.8T tokens / (15360 sequences × 4096 tokens)
    expect(base.hyper.steps).toBe(Math.ceil(14.8e12 / (15360 * 4096)));
    expect(base.hyper.batch_sequences).toBe(15360);
    const schedule = base.hyper.schedule as { milestones: { step: number; factor: number }[]; warmup_steps: number };
    expect(schedule.warmup_steps).toBe(2000);
    expect(schedule.milestones[0]).toMatchObject({ step: Math.round(0.67 * (base.hyper.steps as number)), factor: 0.1 });
  });
});

describe('the R1 recipe plan', () => {
  const doc = lower('r1-tiny.moe');
  it('records stage dependencies and a pipeline order that respects them', () => {
    const reason = doc.plan.stages.find((s) => s.name === 'reason')!;
    expect(reason).toMatchObject({ kind: 'grpo', model: 'R1Tiny', from: { stage: 'cold' }, after: ['cold'] });
    expect(reason.hyper).toMatchObject({ batch_prompts: 8, group: 8, clip: [0.2, 0.28], reward: 'r1', tokenizer: 'bpe' });
    expect(doc.plan.pipelines[0]!.order).toEqual(['base', 'cold', 'after_cold', 'reason', 'after_reason', 'rs', 'final', 'after_final', 'demo']);
    const final = doc.plan.stages.find((s) => s.name === 'final')!;
    expect(final).toMatchObject({ kind: 'sft', from: { stage: 'reason' }, after: ['reason', 'rs'], hyper: { data: { stage: 'rs' } } });
  });

  it('writes the clip range\'s schema default (ε = 0.2) when the stage leaves it out: the runtime invents none', () => {
    const text = readFileSync(join(repo, 'examples/r1-tiny.moe'), 'utf8');
    expect(text).toContain('clip = [0.2, 0.28]\n');
    const files = Object.fromEntries(['pretrain', 'cold', 'prompts', 'rs', 'eval'].map((f) => [`data/r1-tiny/${f}.jsonl`, readFileSync(join(repo, `examples/data/r1-tiny/${f}.jsonl`), 'utf8')]));
    const checked = checkText(text.replace('clip = [0.2, 0.28]\n', ''), files);
    expect(checked.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const reason = lowerSpec(checked, '/mem').plan.stages.find((s) => s.name === 'reason')!;
    expect(reason.hyper.clip).toBe(0.2);
  });

  it('resolves rewards with their weighted rules', () => {
    const rules = doc.plan.rewards.r1!.rules as { name: string; weight: number; kind: string }[];
    expect(rules.map((r) => [r.name, r.weight, r.kind])).toEqual([
      ['accuracy', 0.7, 'answer'],
      ['format', 0.3, 'regex'],
    ]);
  });
});

describe('lowering other shapes', () => {
  it('a plain-q MLA, tied embeddings and a capacity factor', () => {
    const checked = checkText(`model M {
      vocab = 300, dim = 32, layers = 2, context = 64, tie_embeddings = true
      attention mla { heads = 2, q_rank = 0, kv_rank = 16, nope_dim = 8, rope_dim = 4, v_dim = 8 }
      layers 0..1 { moe { experts = 4, hidden = 16, top_k = 2, router { score = softmax, capacity = 1.25, z_loss = 1e-3 } } }
    }`);
    expect(checked.errorCount).toBe(0);
    const doc = lowerSpec(checked, '/mem');
    const model = doc.models[0]!;
    expect(verifyDocument(doc)).toEqual([]);
    expect(model.params.some((p) => p.name === 'lm_head.weight')).toBe(false);
    expect(model.nodes.find((n) => n.op === 'lm_head')!.params).toEqual(['model.embed_tokens.weight']);
    expect(model.params.some((p) => p.name === 'model.layers.0.self_attn.q_proj.weight')).toBe(true);
    expect(model.nodes.find((n) => n.op === 'moe.experts')!.attrs.capacity).toBe(1.25);
    expect(model.nodes.filter((n) => n.op === 'loss.z')).toHaveLength(2);
    expect(model.state).toEqual([]);
  });

  it('shared experts of their own width (`shared_hidden`): one SwiGLU that wide, counted as the statistics count it', () => {
    const checked = checkText(`model M {
      vocab = 300, dim = 32, layers = 2, context = 64
      attention gqa { heads = 4, kv_heads = 2, qkv_bias = true }
      layers 0..1 { moe { experts = 4, shared = 1, shared_hidden = 24, shared_gate = true, hidden = 16, top_k = 2, router { score = softmax, normalize = false } } }
    }`);
    expect(checked.errorCount).toBe(0);
    const doc = lowerSpec(checked, '/mem');
    const model = doc.models[0]!;
    expect(verifyDocument(doc)).toEqual([]);
    const shape = (name: string): readonly number[] | undefined => model.params.find((p) => p.name === name)?.shape;
    expect(shape('model.layers.1.mlp.shared_experts.gate_proj.weight')).toEqual([24, 32]);
    expect(shape('model.layers.1.mlp.shared_experts.down_proj.weight')).toEqual([32, 24]);
    expect(shape('model.layers.1.mlp.experts.{j}.gate_proj.weight')).toEqual([16, 32]);
    expect(paramTotal(model).main).toBe(specStats(checked.context).models[0]!.params.total);
  });
});
