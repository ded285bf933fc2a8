/**
 * The example a new user runs first, through `moe run` on the CPU default (wasm): pretraining
 * examples/r1-tiny.moe halves the validation loss on held-out arithmetic (measured 5.75 → 0.76 in
 * 60 steps), the cold-start SFT starts from it, and GRPO raises the mean reward — computed from the
 * completions by the spec's reward (accuracy + format + length), nothing else — by at least 0.02
 * from the first fifth of its steps to the last (measured: 0.266 → 0.339 over 30 steps). The rest of
 * the pipeline (rejection sampling, SFT on the kept samples, generation) runs in the CLI tests on a
 * micro spec; the README's main job runs all of it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readMetrics } from '../runtime/run/metrics.js';
import { runCli } from './helpers.js';

const repo = join(import.meta.dirname, '..');

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('examples/r1-tiny.moe through the reasoning RL stage', () => {
  it('halves the validation loss, then GRPO raises the reward', { timeout: 900_000 }, async () => {
    const out = mkdtempSync(join(tmpdir(), 'moe-r1-tiny-'));
    const r = await runCli(['run', 'examples/r1-tiny.moe', 'reason', '--backend', 'wasm', '--out', out], repo);
    expect(r.stderr).not.toMatch(/^error/m);
    expect(r.code).toBe(0);

    const valid = readMetrics(join(out, 'base')).filter((m) => typeof m.valid_loss === 'number').map((m) => m.valid_loss as number);
    expect(valid.length).toBeGreaterThanOrEqual(2);
    expect(valid.at(-1)!).toBeLessThan(valid[0]! * 0.5);

    const rewards = readMetrics(join(out, 'reason')).map((m) => m.reward as number);
    expect(rewards).toHaveLength(30);
    const fifth = rewards.length / 5;
    expect(mean(rewards.slice(-fifth))).toBeGreaterThan(mean(rewards.slice(0, fifth)) + 0.02);
  });
});
