/**
 * The training loop on the cpu backend (deterministic): the loss falls on the synthetic arithmetic
 * data, metrics and rotated checkpoints are written, and a run stopped and resumed from its last
 * checkpoint continues with exactly the losses of the uninterrupted run.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { lowerSpec } from '../../../compiler/lower/index.js';
import type { GraphDocument } from '../../../ir/types.js';
import { selectBackend } from '../../../runtime/backend/select.js';
import { loadLatestCheckpoint } from '../../../runtime/run/checkpoints.js';
import { readMetrics } from '../../../runtime/run/metrics.js';
import { openRunFolder } from '../../../runtime/run/run-folder.js';
import { trainingStage } from '../../../runtime/run/stage.js';
import { train, type TrainOptions } from '../../../runtime/run/train.js';
import { tf } from '../../../runtime/tf.js';
import { checkText } from '../../helpers.js';

const SPEC = `
model Mini {
  vocab = 260, dim = 16, layers = 2, context = 64
  init { std = 0.05 }
  attention mla { heads = 2, q_rank = 8, kv_rank = 8, nope_dim = 4, rope_dim = 4, v_dim = 4 }
  layers 0..0 { ffn swiglu { hidden = 32 } }
  layers 1..1 { moe { experts = 4, shared = 1, hidden = 8, top_k = 2, router { balance = bias { rate = 1e-3 } } } }
  mtp { depth = 1, weight = 0.3 }
}
tokenizer bytes { kind = byte }
data arith { synthetic = arithmetic { samples = 400, style = r1 } }
pretrain base {
  model = Mini, data = arith, tokenizer = bytes
  seq_len = 32, batch = 4 sequences, steps = 8
  optimizer adamw { lr = 1e-2 }
  schedule multistep { warmup = 2 steps, decay = [75% -> 0.5] }
  checkpoint { every = 2 steps, keep = 2 }
  eval { every = 4 steps, batches = 2 }
  seed = 3
}`;

let document: GraphDocument;

/** A fresh run folder of ours, as `moe train` opens it. */
function runDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'moe-train-'));
  openRunFolder(dir, () => undefined).release();
  return dir;
}

function options(runDir: string, extra: Partial<TrainOptions> = {}): TrainOptions {
  return { document, specDir: '/mem', runDir, progress: { write: () => undefined, tty: false }, log: () => undefined, ...extra };
}

describe('moe train, the loop', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
    const checked = checkText(SPEC);
    expect(checked.diagnostics).toEqual([]);
    document = lowerSpec(checked, '/mem');
  });

  it('makes the loss fall, logs every step and keeps the newest checkpoints', async () => {
    // a first short run fills tfjs's caches (constants it keeps for the process); then nothing may grow
    await train(options(runDir(), { steps: 1 }));
    const run = runDir();
    const before = tf.memory().numTensors;
    const result = await train(options(run));
    expect(result.steps).toBe(8);
    expect(result.lastLoss).toBeLessThan(result.firstLoss * 0.8);
    const metrics = readMetrics(run);
    // step 0 holds the validation loss before training
    expect(metrics.map((m) => m.step)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(metrics[0]).toHaveProperty('valid_loss');
    expect(metrics[4]).toHaveProperty('valid_loss');
    expect(metrics[1]).toMatchObject({ lr: 5e-3 });
    expect(metrics[8]).toMatchObject({ lr: 5e-3 });
    // every load placed by its router node's layer for the plotter (not by its name): main layer 1, MTP module 1 = layer 2
    const layer = metrics[1]!.layer as Record<string, number>;
    expect(Object.keys(layer).sort()).toEqual(Object.keys(metrics[1]!.load as object).sort());
    expect(Object.values(layer).sort()).toEqual([1, 2]);
    expect(metrics[1]).toMatchObject({ main_layers: 2 });
    expect(readdirSync(run).filter((f) => f.startsWith('checkpoint-')).sort()).toEqual(['checkpoint-6', 'checkpoint-8']);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('resumes exactly: stopped at step 4 and resumed, the losses equal the uninterrupted run', async () => {
    const straight = runDir();
    await train(options(straight));
    const interrupted = runDir();
    await train(options(interrupted, { steps: 4 }));
    await train(options(interrupted, { resume: true }));
    const losses = (run: string) => readMetrics(run).map((m) => [m.step, m.loss]);
    expect(losses(interrupted)).toEqual(losses(straight));
  });

  it('follows a γ schedule: the router bias stops moving once γ reaches 0', async () => {
    const checked = checkText(SPEC.replace('seed = 3', 'seed = 3\n  bias_rate = [0% -> 1e-3, 50% -> 0]'));
    expect(checked.diagnostics).toEqual([]);
    const run = runDir();
    await train({ ...options(run), document: lowerSpec(checked, '/mem') });
    // 8 steps: γ = 1e-3 for steps 1–4, then 0, so each entry moved by at most 4 × 1e-3
    const bias = loadLatestCheckpoint(run)!.state.get('model.layers.1.mlp.gate.e_score_correction_bias')!.data;
    expect(Math.max(...bias.map(Math.abs))).toBeLessThanOrEqual(4e-3 + 1e-9);
    expect(Math.max(...bias.map(Math.abs))).toBeGreaterThan(0);
  });

  it('honours micro_batches and recompute = full (the same losses) and reports precision in one line', async () => {
    const split = SPEC.replace('seed = 3', 'seed = 3\n  precision = bf16\n  parallel { micro_batches = 2, recompute = full }');
    const checked = checkText(split);
    expect(checked.diagnostics).toEqual([]);
    const lines: string[] = [];
    const accumulated = await train({ ...options(runDir(), { steps: 3, log: (l) => lines.push(l) }), document: lowerSpec(checked, '/mem') });
    const whole = await train(options(runDir(), { steps: 3 }));
    expect(Math.abs(accumulated.firstLoss - whole.firstLoss)).toBeLessThan(1e-5);
    expect(Math.abs(accumulated.lastLoss - whole.lastLoss)).toBeLessThan(1e-4);
    expect(lines.filter((l) => l.includes('recompute'))).toEqual([]);
    expect(lines).toContain('precision = bf16 is not available on the cpu backend: training runs in fp32 (--backend cuda trains in bf16)');
    expect(lines.filter((l) => l.includes('micro_batches'))).toEqual([]);
  });

  it('honours recompute = full: no line, and the losses of the plain run', async () => {
    const checked = checkText(SPEC.replace('seed = 3', 'seed = 3\n  parallel { recompute = full }'));
    expect(checked.diagnostics).toEqual([]);
    const recomputing = lowerSpec(checked, '/mem');
    expect(trainingStage(recomputing).recompute).toBe('full');
    expect(trainingStage(document).recompute).toBe('selective');
    const lines: string[] = [];
    const recomputed = await train({ ...options(runDir(), { steps: 3, log: (l) => lines.push(l) }), document: recomputing });
    const plain = await train(options(runDir(), { steps: 3 }));
    expect(lines.filter((l) => l.includes('recompute'))).toEqual([]);
    expect(Math.abs(recomputed.firstLoss - plain.firstLoss) / plain.firstLoss).toBeLessThan(1e-6);
    expect(Math.abs(recomputed.lastLoss - plain.lastLoss) / plain.lastLoss).toBeLessThan(1e-6);
  });
});
