/**
 * The GRPO stage: per step, `batch` prompts (a seeded, resumable order over the prompt set) each get
 * `group` sampled completions from the current policy; the reward scores them; advantages are
 * standardised within each group; the policy takes `iterations` clipped-surrogate updates with a
 * k3 KL penalty against the frozen `from` policy (with `parallel { micro_batches = M }`, each update
 * and the reference pass run on M equal parts of the rollout batch: rl/update.ts). metrics.jsonl logs per step the mean reward and
 * each component, KL, clip fraction, entropy, completion length and timings; checkpoints and resume
 * work as in pretraining (policy, optimizer, prompt order).
 */
import { mkdirSync } from 'node:fs';
import { tensorSeed } from '../random.js';
import { SampleOrder, type OrderState } from '../data/order.js';
import { RuntimeError } from '../errors.js';
import { ParamStore } from '../model/params.js';
import { createRewardScorer } from '../reward/index.js';
import { checkpointDir, checkpointSteps, checkResumedStage, loadLatestCheckpoint } from '../run/checkpoints.js';
import type { RewardFifths, StageContext, StageOutcome } from './stage-runner.js';
import { cappedSteps } from './train-runner.js';
import { adamwConfig } from '../train/adamw.js';
import { runSession, stageSession, type SessionPlan, type SessionResult } from '../train/session.js';
import { advantages, mean, std } from '../rl/advantages.js';
import { policyBatch } from '../rl/batch.js';
import { grpoPolicy } from './grpo-policy.js';
import { componentMeans, rollout, type RolloutItem } from '../rl/rollout.js';
import { generationStage, grpoSettings, promptRecords, rewardBlock } from './generation.js';

interface GrpoTrainerState {
  readonly step: number;
  readonly order: OrderState;
  readonly stage: string;
}

/** At most this many reward problems are printed per step (all are counted in the metrics). */
const PROBLEM_LINES = 3;

export async function grpoRunner(ctx: StageContext): Promise<StageOutcome> {
  const stage = generationStage(ctx.document, ctx.stage, ctx.specDir);
  // made now, not at the first save, so a tokenizer HF files cannot hold is refused before training
  const tokenizerFiles = stage.tokenizer.hfFiles();
  const settings = grpoSettings(ctx.stage, cappedSteps(ctx.stage.hyper.steps, ctx.maxSteps));
  const records = promptRecords(ctx.document, ctx.stage, ctx.specDir);
  const scorer = await createRewardScorer(rewardBlock(ctx.document, ctx.stage), { specDir: ctx.specDir });
  mkdirSync(ctx.runDir, { recursive: true });

  // the reference is the `from` policy (or the seeded initialisation without one), frozen
  const fresh = (): ParamStore => ctx.loadInitial() ?? ParamStore.initialise(stage.model, stage.seed);
  const resumed = ctx.resume ? loadLatestCheckpoint(ctx.runDir) : undefined;
  if (resumed) checkResumedStage(ctx.runDir, resumed, ctx.stage.name);
  const config = adamwConfig(ctx.stage.hyper.optimizer);
  let policy;
  try {
    policy = await grpoPolicy(ctx, {
      model: stage.model,
      policy: resumed ? ParamStore.fromTensors(stage.model, resumed.params, resumed.state) : fresh(),
      reference: settings.kl > 0 ? fresh() : undefined,
      resumed,
      config,
      recompute: settings.recompute,
    });
  } catch (error) {
    await scorer.close();
    throw error;
  }
  if (policy.runsOn === 'cuda') ctx.log(`${ctx.stage.name}: rollouts and policy updates on cuda`);
  const order = new SampleOrder(records.length, stage.seed);
  let start = 0;
  if (resumed) {
    const state = resumed.trainer as unknown as GrpoTrainerState;
    order.restore(state.order);
    start = state.step;
  }
  let example: RolloutItem | undefined;
  const plan: SessionPlan = {
    ...stageSession(ctx.stage, config.lr, { runDir: ctx.runDir, start, resumed: resumed !== undefined }),
    steps: settings.steps,
    checkpointEvery: settings.checkpointEvery,
    nonFiniteHint: 'lower the learning rate or raise kl',
    progress: ctx.progress,
    log: ctx.log,
  };
  let session: SessionResult;
  try {
    session = await runSession(plan, {
      async step(step, lr) {
        const started = performance.now();
        const batchRecords = Array.from({ length: settings.prompts }, () => records[order.next()]!);
        // the current policy: tfjs weights, or under --backend cuda the trainer's device weights
        const decoding = await policy.decoding();
        let result;
        try {
          result = await rollout(stage.model, decoding.source, stage.tokenizer, scorer, batchRecords, {
            group: settings.group,
            maxNewTokens: settings.maxNewTokens,
            sampling: stage.sampling,
            seed: tensorSeed(stage.seed, `grpo step ${step}`),
            stop: stage.stop,
          });
        } finally {
          decoding.dispose();
        }
        result.problems.slice(0, PROBLEM_LINES).forEach((p) => ctx.log(`step ${step}: reward rule ${p.rule}, completion ${p.index}: ${p.reason}`));
        const scores = result.items.map((it) => it.reward);
        const batch = policyBatch(result.items, advantages(scores, settings.group, settings.scale), stage.tokenizer.pad, settings.maskTruncated);
        let refLogp;
        try {
          refLogp = await policy.referenceLogprobs(batch, stage.sampling.temperature, settings.microBatches);
        } catch (error) {
          batch.dispose();
          throw error;
        }
        const updateStarted = performance.now();
        let update;
        try {
          for (let i = 0; i < settings.iterations; i++) {
            update = await policy.update(batch, refLogp, { ...settings, lr, temperature: stage.sampling.temperature });
            // the session stops the run on it; the later iterations must not run on a broken update
            if (update.nonFinite !== null) break;
          }
        } finally {
          batch.dispose();
          refLogp?.dispose();
        }
        const lengths = result.items.map((it) => it.completion.ids.length);
        example = result.items[scores.indexOf(Math.max(...scores))];
        const record = {
          loss: update!.loss,
          reward: mean(scores),
          reward_std: std(scores),
          components: componentMeans(result.items),
          kl: update!.kl,
          clip_fraction: update!.clipFraction,
          entropy: update!.entropy,
          completion_length: mean(lengths),
          truncated: mean(result.items.map((it) => (it.completion.finish === 'length' ? 1 : 0))),
          lr,
          grad_norm: update!.gradNorm,
          reward_problems: result.problems.length,
          generate_s: result.generateSeconds,
          reward_s: result.rewardSeconds,
          update_s: (performance.now() - updateStarted) / 1000,
          best_completion: example?.text,
        };
        const seconds = (performance.now() - started) / 1000;
        return { value: mean(scores), label: 'reward', tokensPerSecond: lengths.reduce((a, b) => a + b, 0) / seconds, nonFinite: update!.nonFinite, record };
      },
      async save(step) {
        const trainer: GrpoTrainerState = { step, order: order.state(), stage: ctx.stage.name };
        return policy.save(ctx.runDir, { document: ctx.document, tokenizer: tokenizerFiles, trainer }, settings.keep);
      },
    });
  } finally {
    await scorer.close();
    policy.dispose();
  }
  const rewards = session.values;
  let checkpoint = session.checkpoint;
  if (checkpoint === '') {
    // resumed after the last step: the final checkpoint is already there
    const last = checkpointSteps(ctx.runDir).at(-1);
    if (last === undefined) throw new RuntimeError(`grpo stage ${ctx.stage.name} ran no step and has no checkpoint`);
    checkpoint = checkpointDir(ctx.runDir, last);
  }
  const reward = rewardFifths(rewards);
  return { checkpoint, summary: summary(rewards, example), figures: { steps: settings.steps, ...(reward ? { reward } : {}) } };
}

/** Mean reward over the first and the last fifth of the steps run now (at least one step each), or undefined when none ran. */
export function rewardFifths(rewards: readonly number[]): RewardFifths | undefined {
  if (rewards.length === 0) return undefined;
  const fifth = Math.max(1, Math.floor(rewards.length / 5));
  return { first_fifth: mean(rewards.slice(0, fifth)), last_fifth: mean(rewards.slice(-fifth)) };
}

/** Reward over the first and last fifth of the steps run now, and the best completion of the last step. */
function summary(rewards: readonly number[], example: RolloutItem | undefined): string[] {
  const fifths = rewardFifths(rewards);
  if (!fifths) return ['no new steps'];
  const lines = [`${rewards.length} steps, mean reward ${fifths.first_fifth.toFixed(3)} (first fifth) → ${fifths.last_fifth.toFixed(3)} (last fifth)`];
  if (example) lines.push(`best last completion: ${JSON.stringify(example.record.prompt)} → ${JSON.stringify(example.text)} (reward ${example.reward.toFixed(2)})`);
  return lines;
}
