/** A grpo stage's context for tests: the stage `rl` of a lowered in-memory spec, on the cpu backend, in a fresh run folder. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GraphDocument } from '../../../ir/types.js';
import { openRunFolder } from '../../../runtime/run/run-folder.js';
import type { StageContext } from '../../../runtime/stages/stage-runner.js';

/** A new, empty run folder (opened once, so a resume finds it moe's). */
export function grpoRunDir(prefix = 'moe-grpo-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  openRunFolder(dir, () => undefined).release();
  return dir;
}

export function grpoContext(doc: GraphDocument, runDir: string, resume = false, maxSteps?: number): StageContext {
  return {
    document: doc,
    specDir: '/mem',
    stage: doc.plan.stages.find((s) => s.name === 'rl')!,
    runDir,
    fromCheckpoint: undefined,
    loadInitial: () => undefined,
    backend: 'cpu',
    resume,
    maxSteps,
    progress: { write: () => undefined, tty: false },
    log: () => undefined,
  };
}
