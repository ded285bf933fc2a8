/**
 * The training loop for `pretrain` and `sft` stages: data → forward/backward → clip → AdamW →
 * router bias update, with the learning-rate schedule, metrics.jsonl, periodic evaluation on the
 * validation split, atomic rotated checkpoints, and exact resume (data position, optimizer state,
 * router biases and weights all come back from the checkpoint, so a resumed run continues the
 * uninterrupted run's loss curve step for step on a deterministic backend).
 */
import { join } from 'node:path';
import { modelConfig } from '../../ir/plan-fields.js';
import type { GraphDocument, ModelGraph } from '../../ir/types.js';
import { openDataset, type BatchIterator } from '../data/dataset.js';
import { openTokenizer } from '../data/open-tokenizer.js';
import type { PackState } from '../data/pack.js';
import { cudaEngine, type CudaEngineOptions } from '../cuda/engine.js';
import type { CudaRuntime } from '../cuda/runtime.js';
import { RuntimeError } from '../errors.js';
import { ParamStore } from '../model/params.js';
import { adamwConfig } from '../train/adamw.js';
import { tfjsEngine, type TrainBatch, type TrainEngine } from '../train/engine.js';
import { runSession, stageSession, type SessionPlan, type SessionResult } from '../train/session.js';
import { parseScalarSchedule, scalarAt, type ScalarSchedule } from '../train/schedule.js';
import { checkResumedStage, loadLatestCheckpoint, saveTrainingCheckpoint, type LoadedTrainingCheckpoint } from './checkpoints.js';
import { METRICS_FILE } from './metrics.js';
import { ownedEntries } from './ownership.js';
import type { ProgressSink } from './progress.js';
import { MEGATRON_HYPER, stageHyper } from '../../ir/plan-fields.js';
import { settingNotes } from './settings.js';
import { fromPlan, trainingStage, type TrainingStage } from './stage.js';
import { tf } from '../tf.js';

export interface TrainOptions {
  /** the IR document of the spec (from `lowerSpec`) and the spec's folder (data paths are relative to it) */
  readonly document: GraphDocument;
  readonly specDir: string;
  readonly stage?: string;
  /** a run folder opened for writing (run-folder.ts): ours and locked */
  readonly runDir: string;
  /** overrides the stage's training length */
  readonly steps?: number;
  readonly resume?: boolean;
  /** skip a batch whose loss or gradient is not finite, instead of stopping */
  readonly skipNonFinite?: boolean;
  /** starting weights (a `from` checkpoint); default: initialised from the stage seed */
  readonly initial?: ParamStore;
  /** run on the cuda executor (runtime/cuda) instead of the active tfjs backend */
  readonly cuda?: CudaRuntime;
  readonly progress: ProgressSink;
  readonly log: (line: string) => void;
}

export interface TrainResult {
  readonly steps: number;
  /** the step it started from: 0, or the resumed checkpoint's (equal to `steps` when nothing was left to train) */
  readonly startStep: number;
  readonly firstLoss: number;
  readonly lastLoss: number;
  readonly validLoss: number | null;
  readonly checkpoint: string;
}

interface TrainerState {
  readonly step: number;
  readonly data: PackState;
  readonly seed: number;
  readonly stage: string;
}

export async function train(options: TrainOptions): Promise<TrainResult> {
  const stage = trainingStage(options.document, options.stage);
  const tokenizer = openTokenizer(stage.tokenizer, options.document.plan.data, options.specDir);
  const vocab = stage.model.params.find((p) => p.name === 'model.embed_tokens.weight')?.shape[0] ?? 0;
  if (tokenizer.size > vocab) throw new RuntimeError(`the tokenizer has ${tokenizer.size} ids but model ${stage.model.name} has vocab ${vocab}`);
  // made now, not at the first save, so a tokenizer HF files cannot hold is refused before training
  const tokenizerFiles = tokenizer.hfFiles();
  const dataset = openDataset(stage.data, options.specDir, tokenizer, {
    seqLen: stage.seqLen,
    batch: stage.batch,
    seed: stage.seed,
    mode: stage.plan.kind === 'sft' ? 'sft' : 'pretrain',
    name: typeof stage.plan.hyper['data'] === 'string' ? stage.plan.hyper['data'] : `the data of stage ${stage.plan.name}`,
    warn: options.log,
  });
  const steps = options.steps ?? totalSteps(stage, dataset.train.records);
  const resumed = options.resume ? resumePoint(options.runDir, stage.plan.name, options.log) : undefined;
  if (!options.resume) refuseEarlierRun(options.runDir);
  const store = resumed
    ? ParamStore.fromTensors(stage.model, resumed.params, resumed.state)
    : (options.initial ?? ParamStore.initialise(stage.model, stage.seed));
  const config = adamwConfig(stage.plan.hyper.optimizer);
  const precision = stageHyper(stage.plan, MEGATRON_HYPER).precision;
  // each setting this run does not honour (precision on tfjs, recompute = selective on tfjs, zero, a multi-device layout): one line each
  for (const line of settingNotes(stage.plan, { backend: tf.getBackend(), cuda: options.cuda !== undefined })) options.log(line);
  const engine = await engineFor(stage.model, store, config, resumed, options.cuda, { precision: precision === 'fp32' ? 'fp32' : 'bf16', recompute: stage.recompute === 'full' });
  let start = 0;
  if (resumed) {
    const state = resumed.trainer as unknown as TrainerState;
    dataset.train.restore(state.data);
    start = state.step;
    if (start > steps) {
      throw new RuntimeError(`the latest checkpoint in ${options.runDir} is at step ${start}, past the ${steps} steps to train`, 'train more steps (--steps), or choose another --out to start over');
    }
  }
  const optional = (key: string): ScalarSchedule | undefined => {
    const attr = stage.plan.hyper[key];
    return attr === undefined ? undefined : parseScalarSchedule(attr, key);
  };
  const biasRate = optional('bias_rate');
  const mtpWeight = optional('mtp_weight');
  const tokensPerStep = stage.batch * stage.seqLen;
  const routerLayers = loadLayers(stage.model);
  const mainLayers = fromPlan(() => modelConfig(stage.model)).layers;
  let validLoss: number | null = null;
  const valid = dataset.valid;
  const plan: SessionPlan = {
    // a --resume of a run stopped before its first checkpoint starts over, dropping its metrics
    ...stageSession(stage.plan, config.lr, { runDir: options.runDir, start, resumed: options.resume === true }),
    steps,
    checkpointEvery: stage.checkpointEvery,
    evalEvery: stage.evalEvery,
    evalAtStart: true,
    skipNonFinite: options.skipNonFinite ?? false,
    nonFiniteHint: 'lower the learning rate or clip_grad, or pass --skip-nonfinite',
    progress: options.progress,
    log: options.log,
  };
  let session: SessionResult;
  try {
    session = await runSession(plan, {
      async step(step, lr) {
        const started = performance.now();
        const result = await engine.step(dataset.train.next(), {
          lr,
          clip: stage.clip,
          microBatches: stage.microBatches,
          recompute: stage.recompute === 'full',
          ...(biasRate === undefined ? {} : { biasRate: scalarAt(biasRate, step - 1, steps) }),
          ...(mtpWeight === undefined ? {} : { mtpWeight: scalarAt(mtpWeight, step - 1, steps) }),
        });
        const note = engine.note();
        if (note) options.log(`from step ${step}: ${note}`);
        const seconds = (performance.now() - started) / 1000;
        const loads = [...result.loads];
        return {
          value: result.loss,
          tokensPerSecond: tokensPerStep / seconds,
          nonFinite: result.nonFinite,
          record: {
            loss: result.loss,
            ...(result.parts ? { loss_parts: result.parts } : {}),
            lr,
            grad_norm: result.gradNorm,
            tokens_per_s: tokensPerStep / seconds,
            load: Object.fromEntries(loads.map(([name, counts]) => [name, [...counts]])),
            balance: Object.fromEntries(loads.map(([name, counts]) => [name, balance(counts)])),
            // where each load sits, for the plotter (report/plot.ts): value names carry no meaning (specs/ir.md)
            layer: Object.fromEntries(loads.flatMap(([name]) => (routerLayers.has(name) ? [[name, routerLayers.get(name)!]] : []))),
            main_layers: mainLayers,
          },
        };
      },
      ...(valid
        ? {
            async evaluate() {
              validLoss = await evaluate(stage, engine, valid);
              return { valid_loss: validLoss };
            },
          }
        : {}),
      async save(step) {
        const trainer: TrainerState = { step, data: dataset.train.state(), seed: stage.seed, stage: stage.plan.name };
        const snapshot = await engine.snapshot();
        return saveTrainingCheckpoint(options.runDir, { document: options.document, model: stage.model.name, ...snapshot, tokenizer: tokenizerFiles, trainer: { ...trainer } }, stage.keep);
      },
    });
  } finally {
    engine.dispose();
  }
  let checkpoint = session.checkpoint;
  const firstLoss = session.values[0] ?? NaN;
  const lastLoss = session.values.at(-1) ?? NaN;
  if (checkpoint === '' && start >= steps) checkpoint = join(options.runDir, `checkpoint-${start}`);
  return { steps, startStep: start, firstLoss, lastLoss, validLoss, checkpoint };
}

/**
 * The checkpoint to resume from, of this stage. A run of ours killed before its first checkpoint
 * (metrics but no checkpoint) starts over from step 0 (undefined), its metrics dropped by the
 * session; a folder without a run of ours is an error, not a fresh start.
 */
function resumePoint(runDir: string, stage: string, log: (line: string) => void): LoadedTrainingCheckpoint | undefined {
  const resumed = loadLatestCheckpoint(runDir);
  if (resumed) {
    checkResumedStage(runDir, resumed, stage);
    return resumed;
  }
  if (ownedEntries(runDir).includes(METRICS_FILE)) {
    log(`${runDir} holds no checkpoint yet (stopped before the first): ${stage} starts over from step 0`);
    return undefined;
  }
  throw new RuntimeError(`${runDir} holds no checkpoint written by moe to resume from`, 'leave out --resume to start a run, or point --out at the run to resume');
}

/**
 * A fresh run must not mix with an earlier one in the same folder: its rotation would delete the
 * newer-numbered checkpoints there (or its own) and its metrics would follow the old ones.
 */
function refuseEarlierRun(runDir: string): void {
  const earlier = ownedEntries(runDir).filter((name) => name === METRICS_FILE || /^checkpoint-\d+$/.test(name));
  if (earlier.length === 0) return;
  throw new RuntimeError(
    `${runDir} holds an earlier run (${earlier.slice(0, 4).join(', ')}${earlier.length > 4 ? ', …' : ''})`,
    'pass --resume to continue it, --force to start over (deletes only what moe wrote), or choose another --out',
  );
}

/** Each router output's decoder layer (its node's `layer`): the loads are keyed by the router's load value. */
function loadLayers(model: ModelGraph): Map<string, number> {
  const layers = new Map<string, number>();
  for (const node of model.nodes) {
    if (node.op !== 'moe.router' || node.layer === undefined) continue;
    for (const output of node.outputs) layers.set(output, node.layer);
  }
  return layers;
}

/** Max load over mean load: 1 is perfect balance. */
function balance(counts: Float32Array): number {
  const total = counts.reduce((a, b) => a + b, 0);
  const mean = total / counts.length;
  return mean === 0 ? 1 : Math.max(...counts) / mean;
}

function totalSteps(stage: TrainingStage, records: number): number {
  if (stage.steps !== null) return stage.steps;
  if (stage.epochs !== null && stage.plan.kind === 'sft') return Math.max(1, Math.ceil((stage.epochs * records) / stage.batch));
  throw new RuntimeError(`stage ${stage.plan.name}: give \`steps\` (or --steps); epochs of packed pretraining data are not counted yet`);
}

/**
 * The engine for this run: the cuda executor when given one (the weights copied to the device, the
 * host store released), else the active tfjs backend over the store.
 */
async function engineFor(
  model: TrainingStage['model'],
  store: ParamStore,
  config: ReturnType<typeof adamwConfig>,
  resumed: LoadedTrainingCheckpoint | undefined,
  cuda: CudaRuntime | undefined,
  on: CudaEngineOptions,
): Promise<TrainEngine> {
  if (!cuda) return tfjsEngine(model, store, config, resumed?.optimizer);
  const { params, state } = await store.snapshot();
  store.dispose();
  return cudaEngine(cuda, model, { params, state, ...(resumed ? { optimizer: resumed.optimizer } : {}) }, config, on);
}

/** Mean main loss over the stage's validation batches (always the same batches). */
export async function evaluate(stage: TrainingStage, engine: TrainEngine, valid: BatchIterator): Promise<number> {
  valid.reset();
  let sum = 0;
  for (let i = 0; i < stage.evalBatches; i++) sum += await engine.mainLoss(valid.next() satisfies TrainBatch);
  return sum / stage.evalBatches;
}
