/**
 * `moe run` on a micro spec (cpu backend): stages run in dependency order in their own folders, an
 * sft stage starts from the pretrain stage's final weights, completed stages are skipped until they
 * or their inputs change, `force` reruns, an interrupted stage resumes from its checkpoint, and an
 * sft stage trains on what a sample stage wrote (a fake sample runner, injected).
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { GraphDocument } from '../../../ir/types.js';
import { lowerSpec } from '../../../compiler/lower/index.js';
import { selectBackend } from '../../../runtime/backend/select.js';
import { loadRecords } from '../../../runtime/data/dataset.js';
import { RuntimeError } from '../../../runtime/errors.js';
import { readCheckpoint } from '../../../runtime/io/checkpoint.js';
import type { TensorData } from '../../../runtime/model/params.js';
import { DONE_FILE, STARTED_FILE, readDone } from '../../../runtime/stages/markers.js';
import { readMetrics } from '../../../runtime/run/metrics.js';
import { runPipeline, type PipelineOptions, type PipelineReport } from '../../../runtime/stages/pipeline.js';
import type { StageRunners } from '../../../runtime/stages/runners.js';
import type { StageRunner } from '../../../runtime/stages/stage-runner.js';
import { trainRunner } from '../../../runtime/stages/train-runner.js';
import { checkText } from '../../helpers.js';
import { PIPELINE_SPEC } from './pipeline-spec.js';

function lower(text: string): GraphDocument {
  const checked = checkText(text);
  expect(checked.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return lowerSpec(checked, '/mem');
}

/** Runs a target in `out`, collecting the log lines. */
async function run(out: string, target: string, extra: Partial<PipelineOptions> = {}): Promise<{ report: PipelineReport; log: string[] }> {
  const log: string[] = [];
  const report = await runPipeline({
    document: lower(PIPELINE_SPEC),
    specDir: out,
    specFile: join(out, 'spec.moe'),
    target,
    outDir: join(out, 'runs'),
    backend: 'cpu',
    runners: { sample: fakeSample },
    progress: { write: () => undefined, tty: false },
    log: (line) => log.push(line),
    ...extra,
  });
  return { report, log };
}

const statuses = (report: PipelineReport) => report.stages.map((s) => [s.name, s.status]);
const tempDir = () => mkdtempSync(join(tmpdir(), 'moe-pipeline-'));

/** Writes 12 kept samples, as a sample stage would, with the prompt record's `answer` kept. */
const fakeSample: StageRunner = (ctx) => {
  const file = join(ctx.runDir, 'samples.jsonl');
  const lines = Array.from({ length: 12 }, (_, i) => JSON.stringify({ prompt: `What is ${i}+1?`, completion: `<answer>${i + 1}</answer>`, reward: 1, answer: String(i + 1) }));
  writeFileSync(file, `${lines.join('\n')}\n`);
  return Promise.resolve({ samples: file, summary: ['12 of 40 completions kept'] });
};

describe('moe run, the pipeline', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('runs pretrain then sft, the sft starting from the pretrain stage\'s final weights; a rerun skips both', { timeout: 120_000 }, async () => {
    const dir = tempDir();
    const initial = new Map<string, Map<string, TensorData>>();
    const spy: StageRunner = async (ctx) => {
      const store = ctx.loadInitial();
      if (store) {
        initial.set(ctx.stage.name, (await store.snapshot()).params);
        store.dispose();
      }
      return trainRunner(ctx);
    };
    const first = await run(dir, 'warm', { runners: { sft: spy } });
    expect(first.report.failure).toBeUndefined();
    expect(statuses(first.report)).toEqual([['base', 'ran'], ['cold', 'ran']]);
    const base = first.report.stages[0]!;
    expect(base.checkpoint).toBe(join(dir, 'runs', 'base', 'checkpoint-3'));
    expect(first.report.stages[1]!.checkpoint).toBe(join(dir, 'runs', 'cold', 'checkpoint-3'));
    expect(base.summary[0]).toMatch(/^3 steps, loss \d/);

    const final = readCheckpoint(base.checkpoint!).params;
    const started = initial.get('cold')!;
    expect([...started.keys()].sort()).toEqual([...final.keys()].sort());
    for (const [name, t] of final) expect(started.get(name)!.data).toEqual(t.data);

    const done = readDone(join(dir, 'runs', 'cold'))!;
    expect(done).toMatchObject({ stage: 'cold', kind: 'sft', checkpoint: 'checkpoint-3', samples: null });
    expect(done.inputs).toEqual({ base: readDone(join(dir, 'runs', 'base'))!.id });

    const again = await run(dir, 'warm');
    expect(statuses(again.report)).toEqual([['base', 'skipped'], ['cold', 'skipped']]);
    expect(again.log.join('\n')).toMatch(/base: skipped, done .*--force reruns it/);
    expect(again.report.stages[1]!.checkpoint).toBe(join(dir, 'runs', 'cold', 'checkpoint-3'));
    // editing the spec elsewhere moves source locations, which are not part of a stage's plan
    const moved = await run(dir, 'warm', { document: lower(`// a comment\n\n${PIPELINE_SPEC}`) });
    expect(statuses(moved.report)).toEqual([['base', 'skipped'], ['cold', 'skipped']]);
  });

  it('reruns with force, and a changed stage with its dependants, saying why', { timeout: 120_000 }, async () => {
    const dir = tempDir();
    await run(dir, 'warm');
    const forcedStage = await run(dir, 'cold', { force: true });
    expect(statuses(forcedStage.report)).toEqual([['base', 'skipped'], ['cold', 'ran']]);
    expect(forcedStage.report.stages[1]!.reason).toBe('--force');
    const forcedAll = await run(dir, 'warm', { force: true });
    expect(statuses(forcedAll.report)).toEqual([['base', 'ran'], ['cold', 'ran']]);

    const coldChanged = await run(dir, 'warm', { document: lower(PIPELINE_SPEC.replace('lr = 1e-3', 'lr = 2e-3')) });
    expect(statuses(coldChanged.report)).toEqual([['base', 'skipped'], ['cold', 'ran']]);
    expect(coldChanged.log.join('\n')).toMatch(/cold \(sft\): running: its plan changed since it ran/);

    const baseChanged = await run(dir, 'warm', { document: lower(PIPELINE_SPEC.replace('lr = 1e-2', 'lr = 5e-3').replace('lr = 1e-3', 'lr = 2e-3')) });
    expect(statuses(baseChanged.report)).toEqual([['base', 'ran'], ['cold', 'ran']]);
    expect(baseChanged.report.stages[1]!.reason).toBe('`base` ran again since');
    // --steps is part of what a stage ran with
    const capped = await run(dir, 'base', { document: lower(PIPELINE_SPEC.replace('lr = 1e-2', 'lr = 5e-3')), maxSteps: 2 });
    expect(statuses(capped.report)).toEqual([['base', 'ran']]);
    expect(capped.report.stages[0]!.checkpoint).toBe(join(dir, 'runs', 'base', 'checkpoint-2'));
  });

  it('stops at a failing stage, keeps what completed, and resumes the interrupted stage from its checkpoint', { timeout: 120_000 }, async () => {
    const dir = tempDir();
    // trains two of the three steps, then dies like a killed process
    const dying: StageRunner = async (ctx) => {
      await trainRunner({ ...ctx, maxSteps: 2 });
      throw new RuntimeError('killed');
    };
    const failed = await run(dir, 'full', { runners: { sft: dying, sample: fakeSample } });
    expect(statuses(failed.report)).toEqual([['base', 'ran'], ['cold', 'failed'], ['rs', 'not run'], ['final', 'not run']]);
    expect(failed.report.failure).toMatchObject({ stage: 'cold', error: { message: 'killed' } });
    const cold = join(dir, 'runs', 'cold');
    expect(existsSync(join(cold, DONE_FILE))).toBe(false);
    expect(existsSync(join(cold, STARTED_FILE))).toBe(true);
    expect(existsSync(join(dir, 'runs', 'base', DONE_FILE))).toBe(true);

    const resumed = await run(dir, 'warm');
    expect(statuses(resumed.report)).toEqual([['base', 'skipped'], ['cold', 'ran']]);
    expect(resumed.report.stages[1]!.reason).toBe('interrupted: resuming from checkpoint-2');
    expect(resumed.log.join('\n')).toMatch(/resumed cold at step 2/);
    expect(readMetrics(cold).filter((m) => m.step > 0).map((m) => m.step)).toEqual([1, 2, 3]);
    expect(resumed.report.stages[1]!.checkpoint).toBe(join(cold, 'checkpoint-3'));
  });

  it('runs a stage target\'s dependencies first; an sft stage trains on a sample stage\'s JSONL', { timeout: 120_000 }, async () => {
    const dir = tempDir();
    let records = 0;
    const spy: StageRunner = (ctx) => {
      if (ctx.stage.name === 'final') {
        expect(ctx.stage.hyper.data).toBe('rs');
        expect(ctx.document.plan.data.rs).toMatchObject({ format: 'jsonl', source: join('runs', 'rs', 'samples.jsonl') });
        records = loadRecords(ctx.document.plan.data.rs!, ctx.specDir, ['completion']).length;
      }
      return trainRunner(ctx);
    };
    const first = await run(dir, 'final', { runners: { sft: spy, sample: fakeSample } });
    expect(first.report.failure).toBeUndefined();
    expect(statuses(first.report)).toEqual([['base', 'ran'], ['cold', 'ran'], ['rs', 'ran'], ['final', 'ran']]);
    expect(records).toBe(12);
    const rs = first.report.stages[2]!;
    expect(rs).toMatchObject({ samples: join(dir, 'runs', 'rs', 'samples.jsonl'), summary: ['12 of 40 completions kept'] });
    // one epoch over the 12 samples (less the held-out share) at batch 4
    expect(first.report.stages[3]!.summary[0]).toMatch(/^3 steps/);
    expect(readDone(join(dir, 'runs', 'final'))!.inputs).toEqual({ cold: readDone(join(dir, 'runs', 'cold'))!.id, rs: readDone(join(dir, 'runs', 'rs'))!.id });

    // new samples: the sft stage on them reruns
    await run(dir, 'rs', { force: true });
    const again = await run(dir, 'full');
    expect(statuses(again.report)).toEqual([['base', 'skipped'], ['cold', 'skipped'], ['rs', 'skipped'], ['final', 'ran']]);
    expect(again.report.stages[3]!.reason).toBe('`rs` ran again since');
  });

  it('reports a failing stage as that stage\'s failure and runs nothing after it', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    // training stubbed out: only the path of a checkpoint is handed on, never read
    const stub: StageRunner = (ctx) => Promise.resolve({ checkpoint: join(ctx.runDir, 'checkpoint-1'), summary: [] });
    const broken: StageRunner = () => Promise.reject(new RuntimeError('the sampler broke'));
    const runners: StageRunners = { pretrain: stub, sft: stub, sample: broken };
    const { report } = await run(dir, 'full', { runners });
    expect(statuses(report)).toEqual([['base', 'ran'], ['cold', 'ran'], ['rs', 'failed'], ['final', 'not run']]);
    expect(report.failure!.error.message).toMatch(/the sampler broke/);
  });

  it('prints the settings a sample stage does not honour before running it', { timeout: 60_000 }, async () => {
    const stub: StageRunner = (ctx) => Promise.resolve({ checkpoint: join(ctx.runDir, 'checkpoint-1'), summary: [] });
    const spec = PIPELINE_SPEC.replace('max_new_tokens = 16 }', 'max_new_tokens = 16, precision = bf16, parallel { micro_batches = 2 } }');
    const { report, log } = await run(tempDir(), 'rs', { document: lower(spec), runners: { pretrain: stub, sft: stub, sample: fakeSample } });
    expect(report.failure).toBeUndefined();
    expect(log).toContain('rs: precision = bf16 is not available for sample stages on the cpu backend: stage rs runs in fp32');
    expect(log).toContain('rs: micro_batches = 2 is not used by sample stage rs: it applies to training steps');
  });
});
