/**
 * Which code runs each kind of stage. To plug a kind in, replace its `unavailable(…)` entry below
 * with the runner (one line); tests and embedders can also pass overrides to `runPipeline`.
 */
import { RuntimeError } from '../errors.js';
import type { StageKind, StageRunner } from './stage-runner.js';
import { trainRunner } from './train-runner.js';

/** A kind whose runner is not part of this build: running it stops the pipeline with this message. */
function unavailable(kind: StageKind, where: string): StageRunner {
  return () =>
    Promise.reject(
      new RuntimeError(
        `${kind} stages are not available in this build (${where} is not wired into \`moe run\` yet)`,
        'run a target without this stage, e.g. `moe run SPEC STAGE` for a training stage',
      ),
    );
}

export const STAGE_RUNNERS: Readonly<Record<StageKind, StageRunner>> = {
  pretrain: trainRunner,
  sft: trainRunner,
  grpo: unavailable('grpo', 'runtime/rl'),
  sample: unavailable('sample', 'runtime/rl'),
  generate: unavailable('generate', 'runtime/infer'),
};

export type StageRunners = Partial<Readonly<Record<StageKind, StageRunner>>>;

export function runnerFor(kind: StageKind, overrides: StageRunners = {}): StageRunner {
  return overrides[kind] ?? STAGE_RUNNERS[kind];
}
