/**
 * A grpo stage honours `parallel { micro_batches }`: with the rollout batch (2 prompts × group 4)
 * in 2 and 4 parts it logs the steps of a run without (the same rollouts, loss, KL, clip fraction,
 * entropy and gradient norm, on the cpu backend; step 2's KL against the reference, computed in
 * parts too, is above 0) and prints no line about the setting; a rollout
 * batch that does not split is refused before anything is sampled.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { lowerSpec } from '../../../compiler/lower/index.js';
import type { GraphDocument, StagePlan } from '../../../ir/types.js';
import { RuntimeError } from '../../../runtime/errors.js';
import { readMetrics } from '../../../runtime/run/metrics.js';
import { settingNotes } from '../../../runtime/run/settings.js';
import { grpoSettings } from '../../../runtime/stages/generation.js';
import { grpoRunner } from '../../../runtime/stages/grpo.js';
import type { StageContext } from '../../../runtime/stages/stage-runner.js';
import { grpoContext, grpoRunDir, grpoSpec } from './grpo-context.js';
import { checkText } from '../../helpers.js';
import { useCpu } from '../gradcheck.js';


function document(parallel: string): GraphDocument {
  const checked = checkText(grpoSpec(parallel));
  expect(checked.diagnostics).toEqual([]);
  return lowerSpec(checked, '/mem');
}

const context = (doc: GraphDocument): StageContext => grpoContext(doc, grpoRunDir('moe-grpo-micro-'));

describe('a grpo stage with micro_batches', () => {
  beforeAll(useCpu);

  it('logs the steps of a run without, with the rollout batch in 2 and 4 parts', { timeout: 120_000 }, async () => {
    const whole = context(document(''));
    await grpoRunner(whole);
    const reference = readMetrics(whole.runDir);
    expect(reference.map((r) => r.step)).toEqual([1, 2]);
    expect(reference[1]!.kl).toBeGreaterThan(0);
    for (const m of [2, 4]) {
      const doc = document(`parallel { micro_batches = ${m} }`);
      const stage = doc.plan.stages.find((s) => s.name === 'rl')!;
      expect(settingNotes(stage, { backend: 'cpu', cuda: false }).filter((l) => l.includes('micro_batches'))).toEqual([]);
      const split = context(doc);
      await grpoRunner(split);
      const logged = readMetrics(split.runDir);
      expect(logged.map((r) => r.step)).toEqual([1, 2]);
      logged.forEach((record, i) => {
        expect(record.best_completion).toEqual(reference[i]!.best_completion);
        expect(record.reward).toEqual(reference[i]!.reward);
        for (const key of ['loss', 'kl', 'clip_fraction', 'entropy', 'grad_norm']) {
          const [a, b] = [record[key] as number, reference[i]![key] as number];
          expect(Math.abs(a - b), `step ${i + 1}: ${key} with ${m} parts`).toBeLessThanOrEqual(1e-5 * Math.max(Math.abs(b), 1e-6));
        }
      });
    }
  });

  it('refuses a rollout batch that does not split, naming prompts × group, before sampling', () => {
    // the checker refuses it (MOE5009): a document from elsewhere can still hold it
    const doc = document('parallel { micro_batches = 4 }');
    const stage = doc.plan.stages.find((s) => s.name === 'rl')!;
    const uneven = { ...stage, hyper: { ...stage.hyper, group: 3 } };
    expect(() => grpoSettings(uneven)).toThrow(RuntimeError);
    expect(() => grpoSettings(uneven)).toThrow('grpo stage rl: a rollout batch of 2 prompts × group 3 = 6 sequences does not split into 4 micro-batches');
    expect(grpoSettings(stage).microBatches).toBe(4);
  });

  it('reads parallel { recompute }: full re-runs each layer in the policy update, selective by default', () => {
    const rl = (d: GraphDocument): StagePlan => d.plan.stages.find((s) => s.name === 'rl')!;
    expect(grpoSettings(rl(document('parallel { recompute = full }'))).recompute).toBe(true);
    expect(grpoSettings(rl(document('parallel { micro_batches = 4 }'))).recompute).toBe(false);
  });
});
