/**
 * Every default in one place: the lowering writes the schema's defaults for absent optional blocks,
 * and the runtime refuses a plan missing a required field instead of inventing a value.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeHost } from '../../compiler/bind/node-host.js';
import { checkFile } from '../../compiler/check/index.js';
import { CHECKPOINT_HYPER, EVAL_HYPER, hyperBlock, modelConfig } from '../../ir/plan-fields.js';
import type { GraphDocument } from '../../ir/types.js';
import { lowerSpec } from '../../compiler/lower/index.js';
import { blockDefaults, schemaNumber } from '../../compiler/schema/defaults.js';
import { modelSpec } from '../../compiler/schema/model.js';
import { stageSpecs } from '../../compiler/schema/stages.js';
import { RuntimeError } from '../../runtime/errors.js';
import { trainingStage } from '../../runtime/run/stage.js';

const repo = join(import.meta.dirname, '..', '..');
// mixtral.moe's pretrain stage has neither a checkpoint nor an eval block
const lower = (): GraphDocument => lowerSpec(checkFile(join(repo, 'examples', 'mixtral.moe'), nodeHost), repo);

describe('plan defaults', () => {
  it('an absent checkpoint or eval block lowers to exactly the schema defaults', () => {
    const stage = lower().plan.stages.find((s) => s.kind === 'pretrain')!;
    expect(hyperBlock(stage, 'checkpoint', CHECKPOINT_HYPER)).toEqual(blockDefaults(stageSpecs.pretrain, 'checkpoint'));
    expect(hyperBlock(stage, 'eval', EVAL_HYPER)).toEqual(blockDefaults(stageSpecs.pretrain, 'eval'));
    expect(blockDefaults(stageSpecs.pretrain, 'checkpoint')).toEqual({ every: 500, keep: 3 });
  });

  it('the model config takes init.std from the schema', () => {
    const doc = lower();
    expect(modelConfig(doc.models[0]!).init_std).toBe(schemaNumber(modelSpec, 'init', 'std'));
  });

  it('the runtime refuses a training stage without checkpoint settings rather than inventing them', () => {
    const doc = lower();
    const stages = doc.plan.stages.map((s) => {
      if (s.kind !== 'pretrain') return s;
      const { checkpoint: _dropped, ...hyper } = s.hyper;
      return { ...s, hyper };
    });
    const broken: GraphDocument = { ...doc, plan: { ...doc.plan, stages } };
    const name = stages.find((s) => s.kind === 'pretrain')!.name;
    expect(() => trainingStage(broken, name)).toThrow(RuntimeError);
    expect(() => trainingStage(broken, name)).toThrow(/checkpoint is missing/);
  });

  it('the runtime refuses a malformed setting, naming it', () => {
    const doc = lower();
    const stages = doc.plan.stages.map((s) => (s.kind === 'pretrain' ? { ...s, hyper: { ...s.hyper, clip_grad: 'high' } } : s));
    const name = stages.find((s) => s.kind === 'pretrain')!.name;
    expect(() => trainingStage({ ...doc, plan: { ...doc.plan, stages } }, name)).toThrow(/clip_grad must be a number >= 0/);
  });
});
