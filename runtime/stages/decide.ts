/** Whether a stage runs, resumes or is skipped, and why: the pipeline prints the reason. */
import { sameStamp, type DoneMarker, type StageStamp } from './markers.js';

export type Decision =
  | { readonly action: 'skip'; readonly reason: string }
  | { readonly action: 'fresh'; readonly reason: string }
  | { readonly action: 'resume'; readonly reason: string };

export interface StageState {
  /** what the stage's result would depend on now */
  readonly stamp: StageStamp;
  readonly done: DoneMarker | undefined;
  readonly started: StageStamp | undefined;
  /** the latest complete checkpoint step in the run folder, if any */
  readonly lastCheckpoint: number | undefined;
  readonly forced: boolean;
}

export function decide(s: StageState): Decision {
  if (s.forced) return { action: 'fresh', reason: '--force' };
  if (s.done) {
    if (s.done.key !== s.stamp.key) return { action: 'fresh', reason: 'its plan changed since it ran' };
    const changed = changedInputs(s.done.inputs, s.stamp.inputs);
    if (changed.length > 0) return { action: 'fresh', reason: `${changed.join(', ')} ran again since` };
    return { action: 'skip', reason: `done ${s.done.finished}` };
  }
  if (s.lastCheckpoint === undefined) return { action: 'fresh', reason: s.started ? 'interrupted before its first checkpoint' : 'not run yet' };
  // a folder with checkpoints but no stage.json is a `moe train` run of the same stage: continue it
  if (s.started && !sameStamp(s.started, s.stamp)) return { action: 'fresh', reason: 'interrupted, and its plan or inputs changed since' };
  const resuming = `resuming from checkpoint-${s.lastCheckpoint}`;
  return { action: 'resume', reason: s.started ? `interrupted: ${resuming}` : `a run folder without done.json (\`moe train\`?): ${resuming}` };
}

/** Names of the inputs whose recorded value differs (or that were added or removed). */
function changedInputs(before: { readonly [k: string]: string }, now: { readonly [k: string]: string }): string[] {
  const names = new Set([...Object.keys(before), ...Object.keys(now)]);
  return [...names].filter((n) => before[n] !== now[n]).map((n) => `\`${n}\``);
}
