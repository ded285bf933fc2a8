/**
 * What `moe run` runs: the default pipeline, stage targets with their dependencies, clear errors for
 * names that are not there; `data = SAMPLE_STAGE` lowered to a dependency; when a stage reruns,
 * resumes or is skipped.
 */
import { describe, expect, it } from 'vitest';
import type { Plan } from '../../../ir/types.js';
import { lowerSpec } from '../../../compiler/lower/index.js';
import { decide, type StageState } from '../../../runtime/stages/decide.js';
import { selectStages } from '../../../runtime/stages/targets.js';
import { checkText } from '../../helpers.js';
import { PIPELINE_SPEC } from './pipeline-spec.js';

const STAGES_ONLY = PIPELINE_SPEC.replace(/^pipeline .*$/gm, '');

function plan(text: string): Plan {
  const checked = checkText(text);
  expect(checked.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return lowerSpec(checked, '/mem').plan;
}

const thrown = (f: () => unknown): { message: string; help?: string } => {
  try {
    f();
  } catch (error) {
    return error as { message: string; help?: string };
  }
  throw new Error('expected an error');
};

describe('moe run targets', () => {
  it('a spec without pipelines runs every stage in dependency order', () => {
    const reordered = STAGES_ONLY.replace(/(sample rs [^\n]*\n)([\s\S]*?)(sft final \{[\s\S]*?\n\}\n)/, '$3$2$1');
    expect(selectStages(plan(reordered), 'spec.moe')).toEqual({ label: 'every stage', named: ['base', 'cold', 'final', 'rs'], order: ['base', 'cold', 'rs', 'final'] });
  });

  it('one pipeline is the default; among several, `default` or the one named like the file', () => {
    expect(selectStages(plan(`${STAGES_ONLY}pipeline p { base -> cold }`), 'spec.moe').label).toBe('pipeline p');
    const two = `${STAGES_ONLY}pipeline warm { base -> cold }\npipeline r1_tiny { base -> cold -> rs -> final }\n`;
    expect(selectStages(plan(two), '/x/r1-tiny.moe')).toMatchObject({ label: 'pipeline r1_tiny', order: ['base', 'cold', 'rs', 'final'] });
    expect(selectStages(plan(`${two}pipeline default { base }`), '/x/r1-tiny.moe').label).toBe('pipeline default');
    const error = thrown(() => selectStages(plan(two), '/x/spec.moe'));
    expect(error.message).toBe('the spec has 2 pipelines and none is the default: warm, r1_tiny');
    expect(error.help).toMatch(/moe run SPEC warm.*`default`/);
  });

  it('a stage target, or a pipeline that leaves out a dependency, runs the dependencies first', () => {
    const p = plan(PIPELINE_SPEC);
    expect(selectStages(p, 'spec.moe', 'cold')).toEqual({ label: 'stage cold', named: ['cold'], order: ['base', 'cold'] });
    expect(selectStages(p, 'spec.moe', 'final').order).toEqual(['base', 'cold', 'rs', 'final']);
    expect(selectStages(p, 'spec.moe', 'base').order).toEqual(['base']);
    const partial = plan(`${STAGES_ONLY}pipeline tail { rs -> final }`);
    expect(selectStages(partial, 'spec.moe', 'tail')).toEqual({ label: 'pipeline tail', named: ['rs', 'final'], order: ['base', 'cold', 'rs', 'final'] });
  });

  it('a name that is neither a pipeline nor a stage gets the closest names, or the choices', () => {
    const p = plan(PIPELINE_SPEC);
    expect(thrown(() => selectStages(p, 'spec.moe', 'cld'))).toMatchObject({ message: 'the spec has no pipeline or stage `cld`', help: expect.stringMatching(/`cold`/) });
    expect(thrown(() => selectStages(p, 'spec.moe', 'zzzzzz')).help).toBe('choose one of: pipelines warm, full; stages base, cold, rs, final');
  });

  it('`data = SAMPLE_STAGE` checks clean and lowers to {stage} with the stage in `after`', () => {
    const final = plan(PIPELINE_SPEC).stages.find((s) => s.name === 'final')!;
    expect(final).toMatchObject({ from: { stage: 'cold' }, after: ['cold', 'rs'], hyper: { data: { stage: 'rs' } } });
    const cold = plan(PIPELINE_SPEC).stages.find((s) => s.name === 'cold')!;
    expect(cold.hyper.data).toBe('arith');
  });
});

describe('rerun, resume or skip', () => {
  const stamp = { key: 'k', inputs: { base: 'id1' } };
  const done = { ...stamp, stage: 'cold', kind: 'sft', id: 'x', checkpoint: 'checkpoint-3', samples: null, outputs: [], summary: [], seconds: 1, finished: 'today' };
  const state = (s: Partial<StageState>): StageState => ({ stamp, done: undefined, started: undefined, lastCheckpoint: undefined, forced: false, ...s });

  it('skips a stage done with the same plan and inputs, reruns it otherwise', () => {
    expect(decide(state({ done }))).toEqual({ action: 'skip', reason: 'done today' });
    expect(decide(state({ done, forced: true }))).toEqual({ action: 'fresh', reason: '--force' });
    expect(decide(state({ done: { ...done, key: 'old' } }))).toEqual({ action: 'fresh', reason: 'its plan changed since it ran' });
    expect(decide(state({ done: { ...done, inputs: { base: 'id0' } } }))).toEqual({ action: 'fresh', reason: '`base` ran again since' });
  });

  it('resumes an interrupted stage only while it is the same stage', () => {
    expect(decide(state({ started: stamp, lastCheckpoint: 4 }))).toEqual({ action: 'resume', reason: 'interrupted: resuming from checkpoint-4' });
    // a `moe train` run folder has checkpoints but no stage.json
    expect(decide(state({ lastCheckpoint: 4 }))).toEqual({ action: 'resume', reason: 'a run folder without done.json (`moe train`?): resuming from checkpoint-4' });
    expect(decide(state({ started: { ...stamp, key: 'old' }, lastCheckpoint: 4 })).action).toBe('fresh');
    expect(decide(state({ started: stamp }))).toEqual({ action: 'fresh', reason: 'interrupted before its first checkpoint' });
    expect(decide(state({}))).toEqual({ action: 'fresh', reason: 'not run yet' });
  });
});
