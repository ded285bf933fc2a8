/**
 * Which code runs each kind of stage; tests and embedders can pass overrides to `runPipeline`.
 */
import type { StageKind, StageRunner } from './stage-runner.js';
import { evalRunner } from './eval.js';
import { generateRunner } from './generate.js';
import { grpoRunner } from './grpo.js';
import { sampleRunner } from './sample.js';
import { trainRunner } from './train-runner.js';

export const STAGE_RUNNERS: Readonly<Record<StageKind, StageRunner>> = {
  pretrain: trainRunner,
  sft: trainRunner,
  grpo: grpoRunner,
  sample: sampleRunner,
  generate: generateRunner,
  eval: evalRunner,
};

export type StageRunners = Partial<Readonly<Record<StageKind, StageRunner>>>;

export function runnerFor(kind: StageKind, overrides: StageRunners = {}): StageRunner {
  return overrides[kind] ?? STAGE_RUNNERS[kind];
}
