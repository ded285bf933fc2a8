/**
 * The contract between `moe run` and the code that runs one kind of stage. The pipeline resolves
 * everything a stage depends on (its run folder, the weights it starts from, the samples it trains
 * on, whether it resumes) and hands it over in a `StageContext`; the runner does the work and says
 * what it left behind in a `StageOutcome`, which the pipeline records in the stage's `done.json`.
 */
import type { GraphDocument, StagePlan } from '../../ir/types.js';
import type { ParamStore } from '../model/params.js';
import type { ProgressSink } from '../run/progress.js';
import type { CudaRuntime } from '../cuda/runtime.js';

export interface StageContext {
  /**
   * The spec's IR document, with one change: an sft stage whose `data` is a sample stage
   * (`hyper.data = {stage}`) gets `hyper.data = STAGE_NAME` and a data block of that name reading
   * the sample stage's JSONL, so it trains through the ordinary data path.
   */
  readonly document: GraphDocument;
  /** the entry spec's folder: the document's paths are relative to it */
  readonly specDir: string;
  /** the stage to run (`document.plan.stages` has the same entry) */
  readonly stage: StagePlan;
  /** the stage's own folder, `OUT/STAGE/`: checkpoints, metrics, outputs; created by the pipeline */
  readonly runDir: string;
  /** the checkpoint folder `from` resolves to (a stage's final checkpoint or a path), if any */
  readonly fromCheckpoint: string | undefined;
  /** reads `fromCheckpoint` into a new store the caller owns (disposes); undefined without `from` */
  readonly loadInitial: () => ParamStore | undefined;
  /** the tf.js backend already selected for the process (`cpu`, `wasm`, …) */
  readonly backend: string;
  /**
   * `--backend cuda`: training stages train on the cuda executor and generation decodes on the cuda
   * decoder (stages/decode-source.ts); tfjs (the cpu backend) holds weights on the host and runs
   * GRPO's policy updates
   */
  readonly cuda?: CudaRuntime;
  /** continue from the run folder's latest checkpoint instead of starting over */
  readonly resume: boolean;
  /** `--steps N`: a training stage runs at most N optimizer steps (smoke runs) */
  readonly maxSteps: number | undefined;
  readonly progress: ProgressSink;
  readonly log: (line: string) => void;
}

export interface StageOutcome {
  /** the final checkpoint folder, which stages `from` this one start from */
  readonly checkpoint?: string;
  /** the JSONL (`prompt`, `completion`, …) an sft stage with `data = THIS_STAGE` trains on */
  readonly samples?: string;
  /** other files the stage wrote (generations, reports), for the summary */
  readonly outputs?: readonly string[];
  /** a few short lines for the summary table: losses, rewards, kept samples */
  readonly summary: readonly string[];
  /** the numbers `summary.json` reports for the stage (summary.ts) */
  readonly figures?: StageFigures;
}

/** A stage's numbers: training stages give `steps`, sample stages `kept`, eval stages the rest. */
export interface StageFigures {
  /** optimizer steps the stage's final checkpoint has had */
  readonly steps?: number;
  /** completions a sample stage kept */
  readonly kept?: number;
  /** share of prompts whose answer rule scored 1 */
  readonly accuracy?: number;
  /** each reward rule's mean score */
  readonly rules?: Readonly<Record<string, number>>;
  /** a GRPO stage's mean reward over the first and the last fifth of the steps it ran */
  readonly reward?: RewardFifths;
}

export interface RewardFifths {
  readonly first_fifth: number;
  readonly last_fifth: number;
}

export type StageRunner = (ctx: StageContext) => Promise<StageOutcome>;

export type StageKind = StagePlan['kind'];
