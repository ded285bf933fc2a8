/**
 * The files `moe run` keeps in a stage's run folder besides what the stage writes:
 *   stage.json  written when the stage starts: its fingerprint and inputs, so an interrupted run
 *               resumes only if the stage is still the one that was interrupted;
 *   done.json   written (atomically) when it completes: fingerprint, inputs, final checkpoint,
 *               outputs and summary. Later runs skip the stage while both still match.
 * Paths inside are relative to the run folder, so a runs folder can be moved. Like every file a
 * command writes in a run folder, both are listed in its manifest (ownership.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RuntimeError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { claimEntry } from '../run/ownership.js';
import type { StageFigures } from './stage-runner.js';

export const DONE_FILE = 'done.json';
export const STARTED_FILE = 'stage.json';

/** What a stage's result depends on. */
export interface StageStamp {
  /** `stageKey`: the stage's plan entry, model, named blocks, `--steps` cap */
  readonly key: string;
  /** each dependency stage → the `id` of its completion; a `from` path → the path */
  readonly inputs: { readonly [name: string]: string };
}

export interface DoneMarker extends StageStamp {
  readonly stage: string;
  readonly kind: string;
  /** unique per completion: a dependant that recorded another id ran on older inputs */
  readonly id: string;
  readonly checkpoint: string | null;
  readonly samples: string | null;
  readonly outputs: readonly string[];
  readonly summary: readonly string[];
  /** the stage's numbers for summary.json; absent in markers written before they were recorded */
  readonly figures?: StageFigures;
  readonly seconds: number;
  readonly finished: string;
}

function writeMarker(runDir: string, name: string, value: unknown): void {
  claimEntry(runDir, name);
  writeFileAtomic(join(runDir, name), `${JSON.stringify(value, null, 2)}\n`);
}

function readJson<T>(path: string): T | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (error) {
    throw new RuntimeError(`${path} is not valid JSON: ${(error as Error).message}`, 'delete it to run the stage again');
  }
}

export const readDone = (runDir: string): DoneMarker | undefined => readJson<DoneMarker>(join(runDir, DONE_FILE));
export const writeDone = (runDir: string, marker: DoneMarker): void => writeMarker(runDir, DONE_FILE, marker);
export const readStarted = (runDir: string): StageStamp | undefined => readJson<StageStamp>(join(runDir, STARTED_FILE));
export const writeStarted = (runDir: string, stamp: StageStamp): void => writeMarker(runDir, STARTED_FILE, stamp);

export function sameStamp(a: StageStamp, b: StageStamp): boolean {
  return a.key === b.key && JSON.stringify(sortedEntries(a.inputs)) === JSON.stringify(sortedEntries(b.inputs));
}

const sortedEntries = (o: { readonly [k: string]: string }): [string, string][] => Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1));
