/**
 * The example a new user runs first, through `moe run` on the CPU default (wasm), up to the eval
 * after GRPO: pretraining examples/r1-tiny.moe halves the validation loss (measured 5.78 → 0.43 in
 * 200 steps), and GRPO raises the mean reward — computed from the completions by the spec's reward
 * (right letter + format), nothing else — by at least 0.1 from the first fifth of its 60 steps to
 * the last (measured 0.566 → 0.701), and the held-out accuracy by at least 0.15 over the cold-start
 * SFT's (measured 0.461 → 0.625). A stage target runs only what it depends on, and after_cold is
 * no dependency of after_reason, so the test runs after_cold first and then after_reason into the
 * same folder (base and cold are done and skipped); each run's summary.json has its own eval. The
 * README's main job runs the rest (rejection sampling, the final SFT and its eval, generation);
 * test/examples/r1-tiny-recipe.test.ts checks its structure.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readMetrics } from '../runtime/run/metrics.js';
import { runCli } from './helpers.js';

const repo = join(import.meta.dirname, '..');

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('examples/r1-tiny.moe through the reasoning RL stage', () => {
  it('halves the validation loss, then GRPO raises the reward and the held-out accuracy', { timeout: 900_000 }, async () => {
    const out = mkdtempSync(join(tmpdir(), 'moe-r1-tiny-'));
    const run = async (target: string): Promise<{ name: string; status: string; accuracy?: number }[]> => {
      const r = await runCli(['run', 'examples/r1-tiny.moe', target, '--backend', 'wasm', '--out', out], repo);
      expect(r.stderr).not.toMatch(/^error/m);
      expect(r.code).toBe(0);
      return (JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { stages: { name: string; status: string; accuracy?: number }[] }).stages;
    };
    const accuracy = (stages: { name: string; accuracy?: number }[], name: string): number => {
      const stage = stages.find((s) => s.name === name);
      expect(stage, `${name} in summary.json`).toBeDefined();
      return stage!.accuracy!;
    };
    const cold = accuracy(await run('after_cold'), 'after_cold');
    const second = await run('after_reason');
    // the second run reuses the first one's base and cold instead of training them again
    expect(second.filter((s) => s.status === 'ran').map((s) => s.name)).toEqual(['reason', 'after_reason']);

    const valid = readMetrics(join(out, 'base')).filter((m) => typeof m.valid_loss === 'number').map((m) => m.valid_loss as number);
    expect(valid.length).toBeGreaterThanOrEqual(2);
    expect(valid.at(-1)!).toBeLessThan(valid[0]! * 0.5);

    const rewards = readMetrics(join(out, 'reason')).map((m) => m.reward as number);
    expect(rewards).toHaveLength(60);
    const fifth = rewards.length / 5;
    expect(mean(rewards.slice(-fifth))).toBeGreaterThan(mean(rewards.slice(0, fifth)) + 0.1);

    expect(accuracy(second, 'after_reason')).toBeGreaterThanOrEqual(cold + 0.15);
  });
});
