/**
 * Training checkpoints in a run folder, in the HF Trainer shape: `checkpoint-N/` holds the model
 * checkpoint (runtime/io/checkpoint.ts), `optimizer.safetensors` (AdamW's m and v under `m.NAME`
 * and `v.NAME`) and `trainer_state.json` (step, data position, RNG state, …). Everything is written
 * into a hidden staging folder that is renamed to `checkpoint-N` only when complete, so a crash or
 * `kill -9` during a save never leaves a broken latest checkpoint; the oldest beyond `keep` are then
 * deleted. Only checkpoint folders the run folder's manifest lists (ownership.ts) count: another
 * tool's `checkpoint-N/` in the folder is never loaded, rotated or replaced.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GraphDocument } from '../../ir/types.js';
import { RuntimeError } from '../errors.js';
import { stagingPath } from '../io/atomic.js';
import { readCheckpoint, writeCheckpoint, type Checkpoint } from '../io/checkpoint.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import type { TokenizerFiles } from '../data/tokenizer.js';
import type { TensorData } from '../model/params.js';
import type { AdamW, AdamWState } from '../train/adamw.js';
import type { ParamStore } from '../model/params.js';
import { claimEntry, ownedEntries, removeEntry } from './ownership.js';

export const TRAINER_STATE = 'trainer_state.json';
export const OPTIMIZER_STATE = 'optimizer.safetensors';

/** AdamW's moments and step count, as `runtime/train/adamw.ts` saves and restores them. */
export type OptimizerState = AdamWState;

export interface TrainingCheckpoint {
  readonly document: GraphDocument;
  readonly model: string;
  readonly params: ReadonlyMap<string, TensorData>;
  readonly state: ReadonlyMap<string, TensorData>;
  /** the tokenizer the stage trains with, as HF files (written into the checkpoint folder) */
  readonly tokenizer: TokenizerFiles;
  readonly optimizer: OptimizerState;
  /** JSON-serialisable trainer state: step, data order, RNG, metrics so far */
  readonly trainer: { readonly step: number } & Readonly<Record<string, unknown>>;
}

export function checkpointDir(runDir: string, step: number): string {
  return join(runDir, `checkpoint-${step}`);
}

/** Saves `checkpoint-STEP` in a run folder we own, then keeps the newest `keep` of ours (this one always). */
export function saveTrainingCheckpoint(runDir: string, contents: TrainingCheckpoint, keep: number): string {
  const step = contents.trainer.step;
  const final = checkpointDir(runDir, step);
  claimEntry(runDir, `checkpoint-${step}`);
  const staging = stagingPath(final);
  rmSync(staging, { recursive: true, force: true });
  writeCheckpoint(staging, { document: contents.document, model: contents.model, params: contents.params, state: contents.state, tokenizer: contents.tokenizer });
  const moments = [...contents.optimizer.m].map(([name, t]) => [`m.${name}`, { dtype: 'F32' as const, shape: t.shape, data: t.data }] as const);
  const velocities = [...contents.optimizer.v].map(([name, t]) => [`v.${name}`, { dtype: 'F32' as const, shape: t.shape, data: t.data }] as const);
  writeSafetensors(join(staging, OPTIMIZER_STATE), [...moments, ...velocities], { format: 'moe', step: String(contents.optimizer.step) });
  writeFileSync(join(staging, TRAINER_STATE), `${JSON.stringify(contents.trainer, null, 2)}\n`);
  rmSync(final, { recursive: true, force: true });
  renameSync(staging, final);
  rotate(runDir, keep, step);
  return final;
}

/** Steps of the complete checkpoints a command of ours wrote in a run folder, ascending. */
export function checkpointSteps(runDir: string): number[] {
  if (!existsSync(runDir)) return [];
  return ownedEntries(runDir)
    .map((name) => /^checkpoint-(\d+)$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null && existsSync(join(runDir, m[0], TRAINER_STATE)))
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/** Deletes our oldest checkpoints beyond `keep`; never the one just saved, even if others are newer. */
function rotate(runDir: string, keep: number, saved: number): void {
  const others = checkpointSteps(runDir).filter((s) => s !== saved);
  for (const step of others.slice(0, Math.max(0, others.length - (keep - 1)))) removeEntry(runDir, `checkpoint-${step}`);
}

export interface LoadedTrainingCheckpoint extends Checkpoint {
  readonly optimizer: OptimizerState;
  readonly trainer: { readonly step: number } & Readonly<Record<string, unknown>>;
}

/** The latest complete checkpoint of a run, or undefined when there is none. */
export function loadLatestCheckpoint(runDir: string): LoadedTrainingCheckpoint | undefined {
  const step = checkpointSteps(runDir).at(-1);
  if (step === undefined) return undefined;
  const dir = checkpointDir(runDir, step);
  const checkpoint = readCheckpoint(dir);
  const { tensors, metadata } = readSafetensors(join(dir, OPTIMIZER_STATE));
  const m = new Map<string, TensorData>();
  const v = new Map<string, TensorData>();
  for (const [name, t] of tensors) {
    if (!(t.data instanceof Float32Array)) throw new RuntimeError(`${dir}/${OPTIMIZER_STATE}: ${name} is not float32`);
    if (name.startsWith('m.')) m.set(name.slice(2), { shape: t.shape, data: t.data });
    else if (name.startsWith('v.')) v.set(name.slice(2), { shape: t.shape, data: t.data });
    else throw new RuntimeError(`${dir}/${OPTIMIZER_STATE}: unexpected tensor ${name}`);
  }
  const trainer = readTrainerState(join(dir, TRAINER_STATE));
  return { ...checkpoint, optimizer: { step: Number(metadata.step ?? trainer.step), m, v }, trainer };
}

/** `--resume` continues the stage that wrote the run folder, never another one (its state would not fit). */
export function checkResumedStage(runDir: string, loaded: LoadedTrainingCheckpoint, stage: string): void {
  const written = loaded.trainer['stage'];
  if (written === stage) return;
  const file = join(checkpointDir(runDir, loaded.trainer.step), TRAINER_STATE);
  throw new RuntimeError(
    `${file} is a checkpoint of stage ${typeof written === 'string' ? written : '(none recorded)'}, not of ${stage}`,
    `resume it with --stage ${typeof written === 'string' ? written : 'NAME'}, or give ${stage} its own --out`,
  );
}

/** A checkpoint's `trainer_state.json`: a JSON object with an integer `step`, or a one-line error naming the file. */
function readTrainerState(path: string): { step: number } & Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new RuntimeError(`${path} is not valid JSON (${(error as Error).message})`, 'resume from an earlier checkpoint (delete this one) or start over with --force');
  }
  const step = (parsed as { step?: unknown } | null)?.step;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !Number.isInteger(step) || (step as number) < 0) {
    throw new RuntimeError(`${path} holds no trainer state: expected a JSON object with an integer \`step\``, 'resume from an earlier checkpoint (delete this one) or start over with --force');
  }
  return parsed as { step: number } & Record<string, unknown>;
}

/** What a trainer saves at a step: its weights, optimizer and JSON state (which must hold `step`). */
export interface RunState {
  readonly document: GraphDocument;
  readonly model: string;
  readonly store: ParamStore;
  readonly tokenizer: TokenizerFiles;
  readonly optimizer: AdamW;
  readonly trainer: { readonly step: number };
}

/** Reads the weights and optimizer state off the device and saves them as `checkpoint-STEP`. */
export async function saveRunCheckpoint(runDir: string, run: RunState, keep: number): Promise<string> {
  const { params, state } = await run.store.snapshot();
  const trainer = run.trainer as { step: number } & Record<string, unknown>;
  return saveTrainingCheckpoint(runDir, { document: run.document, model: run.model, params, state, tokenizer: run.tokenizer, optimizer: await run.optimizer.state(), trainer }, keep);
}
