/** Run folders: atomic, rotated training checkpoints; metrics that survive a crash; progress lines. */
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lowerSpec } from '../../../compiler/lower/index.js';
import { byteTokenizer } from '../../../runtime/data/byte.js';
import { initialValues, storedShape, type TensorData } from '../../../runtime/model/params.js';
import { checkpointSteps, loadLatestCheckpoint, saveTrainingCheckpoint } from '../../../runtime/run/checkpoints.js';
import { appendMetrics, readMetrics, truncateMetrics, METRICS_FILE } from '../../../runtime/run/metrics.js';
import { claimEntry } from '../../../runtime/run/ownership.js';
import { openRunFolder } from '../../../runtime/run/run-folder.js';
import { Progress, formatDuration } from '../../../runtime/run/progress.js';
import { checkText } from '../../helpers.js';

const SPEC = `model M {
  vocab = 300, dim = 8, layers = 1, context = 32
  attention gqa { heads = 2, kv_heads = 1 }
  layers 0..0 { moe { experts = 2, hidden = 8, top_k = 1, router { balance = bias { rate = 1e-3 } } } }
}`;

/** A fresh run folder of ours, as a command opens it. */
function runDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'moe-run-'));
  openRunFolder(dir, () => undefined).release();
  return dir;
}

function contents(step: number, seed: number) {
  const document = lowerSpec(checkText(SPEC), '/mem');
  const model = document.models[0]!;
  const tensors = (entries: readonly { name: string; shape: readonly number[]; stack?: number }[], offset: number): Map<string, TensorData> =>
    new Map(entries.map((p) => [p.name, { shape: storedShape(p), data: initialValues({ kind: 'normal', std: 1 }, storedShape(p), seed + offset, p.name) }]));
  const params = tensors(model.params, 0);
  return {
    document,
    model: model.name,
    params,
    state: tensors(model.state, 1),
    tokenizer: byteTokenizer().hfFiles(),
    optimizer: { step, m: tensors(model.params, 2), v: tensors(model.params, 3) },
    trainer: { step, data: { epoch: 0, position: step * 4 }, rng: seed },
  };
}

describe('training checkpoints', () => {
  it('round-trip weights, optimizer state and trainer state', () => {
    const run = runDir();
    const saved = contents(10, 1);
    saveTrainingCheckpoint(run, saved, 3);
    const loaded = loadLatestCheckpoint(run)!;
    expect(loaded.trainer).toEqual(saved.trainer);
    expect(loaded.optimizer.step).toBe(10);
    for (const [name, t] of saved.params) expect(loaded.params.get(name)!.data).toEqual(t.data);
    for (const [name, t] of saved.optimizer.v) expect(loaded.optimizer.v.get(name)!.data).toEqual(t.data);
    for (const [name, t] of saved.state) expect(loaded.state.get(name)!.data).toEqual(t.data);
  });

  it('keep the newest `keep` checkpoints', () => {
    const run = runDir();
    for (const step of [5, 10, 15, 20]) saveTrainingCheckpoint(run, contents(step, step), 2);
    expect(checkpointSteps(run)).toEqual([15, 20]);
    expect(loadLatestCheckpoint(run)!.trainer.step).toBe(20);
  });

  it('ignore what a crash mid-save leaves behind: a staging folder, a folder without trainer state', () => {
    const run = runDir();
    saveTrainingCheckpoint(run, contents(10, 1), 3);
    mkdirSync(join(run, `.checkpoint-20.tmp-${process.pid}`));
    writeFileSync(join(run, `.checkpoint-20.tmp-${process.pid}`, 'model.safetensors'), 'half');
    // listed as ours (a save began) but never completed
    claimEntry(run, 'checkpoint-30');
    mkdirSync(join(run, 'checkpoint-30'));
    expect(checkpointSteps(run)).toEqual([10]);
    expect(loadLatestCheckpoint(run)!.trainer.step).toBe(10);
    expect(readdirSync(run)).toContain('checkpoint-10');
  });

  it('are absent from a fresh run folder', () => {
    expect(loadLatestCheckpoint(join(tmpdir(), 'moe-no-such-run'))).toBeUndefined();
  });
});

describe('metrics.jsonl', () => {
  it('appends records, tolerates a line cut by a crash, and truncates to the resume step', () => {
    const run = runDir();
    for (let step = 1; step <= 5; step++) appendMetrics(run, { step, loss: 5 - step / 10 });
    appendFileSync(join(run, METRICS_FILE), '{"step": 6, "lo');
    expect(readMetrics(run).map((r) => r.step)).toEqual([1, 2, 3, 4, 5]);
    truncateMetrics(run, 3);
    expect(readMetrics(run).map((r) => r.step)).toEqual([1, 2, 3]);
  });
});

describe('progress', () => {
  const update = (step: number) => ({ step, steps: 100, loss: 2.5, tokensPerSecond: 1234.4, lr: 3e-4 });

  it('redraws one line on a terminal', () => {
    let out = '';
    const p = new Progress({ write: (t) => (out += t), tty: true }, 0);
    p.update(update(1));
    p.update(update(2));
    p.done();
    expect(out.split('\r\u001b[2K')).toHaveLength(3);
    expect(out).toContain('step 2/100  loss 2.5000  lr 3.00e-4  1234 tok/s');
  });

  it('prints a plain line every few steps off a terminal', () => {
    let out = '';
    const p = new Progress({ write: (t) => (out += t), tty: false }, 0, 10);
    for (let step = 1; step <= 25; step++) p.update(update(step));
    expect(out.trim().split('\n')).toHaveLength(2);
    expect(out).not.toContain('\r');
  });

  it('formats durations', () => {
    expect(formatDuration(59)).toBe('59s');
    expect(formatDuration(61)).toBe('1m01s');
    expect(formatDuration(3700)).toBe('1h01m');
    expect(formatDuration(NaN)).toBe('?');
  });
});
