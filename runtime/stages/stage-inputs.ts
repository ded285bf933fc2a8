/**
 * What a stage takes from the stages before it, read from their `done.json`: the checkpoint its
 * `from` names, and for an sft stage with `data = SAMPLE_STAGE`, that stage's JSONL turned into an
 * ordinary data block so the SFT data path reads it unchanged.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { AttrValue, GraphDocument, StagePlan } from '../../ir/types.js';
import { RuntimeError } from '../errors.js';
import { readCheckpoint } from '../io/checkpoint.js';
import { modelOf } from '../load.js';
import { ParamStore } from '../model/params.js';
import type { DoneMarker } from './markers.js';

/** A completed stage's marker and its run folder (marker paths are relative to it). */
export interface Completed {
  readonly runDir: string;
  readonly done: DoneMarker;
}

export type CompletedStages = ReadonlyMap<string, Completed>;

/** The sample stage an sft stage trains on (`hyper.data = {stage}`), if any. */
export function samplesStageOf(stage: StagePlan): string | undefined {
  const data = stage.hyper.data;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return undefined;
  const name = (data as { readonly [k: string]: AttrValue }).stage;
  return typeof name === 'string' ? name : undefined;
}

function completed(stage: StagePlan, dep: string, what: string, done: CompletedStages): Completed {
  const c = done.get(dep);
  if (!c) throw new RuntimeError(`stage ${stage.name} ${what} ${dep}, which has not completed`, `run it first: moe run SPEC ${dep}`);
  return c;
}

/** The checkpoint folder a stage starts from, or undefined for freshly initialised weights. */
export function fromCheckpoint(stage: StagePlan, specDir: string, done: CompletedStages): string | undefined {
  const from = stage.from;
  if (!from) return undefined;
  if ('path' in from) return resolve(specDir, from.path);
  const dep = completed(stage, from.stage, 'starts from', done);
  if (dep.done.checkpoint === null) throw new RuntimeError(`stage ${stage.name} starts from ${from.stage}, which left no checkpoint`, 'start it from a training stage or a checkpoint path');
  return join(dep.runDir, dep.done.checkpoint);
}

/** Reads a checkpoint into a new store for the stage's model (the caller disposes it). */
export function loadWeights(document: GraphDocument, stage: StagePlan, dir: string): ParamStore {
  if (!stage.model) throw new RuntimeError(`stage ${stage.name} has no model`);
  const checkpoint = readCheckpoint(dir);
  return ParamStore.fromTensors(modelOf(document, stage.model), checkpoint.params, checkpoint.state);
}

/**
 * The document the stage's runner sees: for `data = SAMPLE_STAGE`, `hyper.data` names a data block
 * (called like the sample stage; blocks and stages share one namespace, so no block has that name)
 * whose `source` is the samples JSONL, relative to the spec folder like every IR path.
 */
export function withSamples(document: GraphDocument, stage: StagePlan, specDir: string, done: CompletedStages): GraphDocument {
  const samplesStage = samplesStageOf(stage);
  if (samplesStage === undefined) return document;
  const dep = completed(stage, samplesStage, 'trains on the samples of', done);
  if (dep.done.samples === null) throw new RuntimeError(`stage ${stage.name} trains on the samples of ${samplesStage}, which wrote no samples file`, `${samplesStage} must be a sample stage`);
  const file = join(dep.runDir, dep.done.samples);
  if (existsSync(file) && readFileSync(file, 'utf8').trim() === '') {
    throw new RuntimeError(
      `stage ${stage.name} trains on the samples of ${samplesStage}, which kept none`,
      `lower ${samplesStage}'s min_reward, raise its n, or train the policy it samples from longer; then rerun it with \`moe run SPEC ${samplesStage} --force\``,
    );
  }
  const source = relative(specDir, file) || '.';
  const plan = document.plan;
  return {
    ...document,
    plan: {
      ...plan,
      data: { ...plan.data, [samplesStage]: { source, format: 'jsonl', prompt: 'prompt', completion: 'completion' } },
      stages: plan.stages.map((s) => (s.name === stage.name ? { ...s, hyper: { ...s.hyper, data: samplesStage } } : s)),
    },
  };
}
