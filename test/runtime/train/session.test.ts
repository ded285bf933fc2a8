/**
 * The training-session skeleton (runtime/train/session.ts) that moe train and the GRPO stage share,
 * driven by hand-written hooks: which steps it records, evaluates and checkpoints, what it does
 * with a non-finite step, and what a resume drops from the metrics.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RuntimeError } from '../../../runtime/errors.js';
import { Interrupted, watchInterrupts } from '../../../runtime/run/interrupt.js';
import { appendMetrics, readMetrics } from '../../../runtime/run/metrics.js';
import { openRunFolder } from '../../../runtime/run/run-folder.js';
import { runSession, type SessionHooks, type SessionPlan } from '../../../runtime/train/session.js';

function runDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'moe-session-'));
  openRunFolder(dir, () => undefined).release();
  return dir;
}

function plan(dir: string, extra: Partial<SessionPlan> = {}): SessionPlan {
  return {
    runDir: dir,
    name: 'base',
    steps: 5,
    start: 0,
    resumed: false,
    schedule: { kind: 'constant', warmup_steps: 0 },
    peakLr: 0.5,
    checkpointEvery: 2,
    evalEvery: 3,
    evalAtStart: true,
    nonFiniteHint: 'lower it',
    progress: { write: () => undefined, tty: false },
    log: () => undefined,
    ...extra,
  };
}

/** Hooks whose step `bad` is not finite; they note what was asked of them. */
function hooks(bad: number, calls: string[]): SessionHooks {
  return {
    step: async (step, lr) => {
      calls.push(`step ${step} lr ${lr}`);
      return { value: 10 - step, tokensPerSecond: 1, nonFinite: step === bad ? 'loss' : null, record: { loss: 10 - step } };
    },
    evaluate: async (step) => {
      calls.push(`eval ${step}`);
      return { valid_loss: step };
    },
    save: async (step) => {
      calls.push(`save ${step}`);
      return `checkpoint-${step}`;
    },
  };
}

describe('the training session', () => {
  it('records, evaluates and checkpoints on the cadence, skipping a non-finite step when asked', async () => {
    const dir = runDir();
    const calls: string[] = [];
    const lines: string[] = [];
    const result = await runSession(plan(dir, { skipNonFinite: true, log: (l) => lines.push(l) }), hooks(4, calls));
    expect(result).toEqual({ checkpoint: 'checkpoint-5', values: [9, 8, 7, 5] });
    expect(calls).toEqual(['eval 0', 'step 1 lr 0.5', 'step 2 lr 0.5', 'save 2', 'step 3 lr 0.5', 'eval 3', 'step 4 lr 0.5', 'step 5 lr 0.5', 'eval 5', 'save 5']);
    expect(readMetrics(dir)).toEqual([
      { step: 0, valid_loss: 0 },
      { step: 1, loss: 9 },
      { step: 2, loss: 8 },
      { step: 3, loss: 7, valid_loss: 3 },
      { step: 5, loss: 5, valid_loss: 5 },
    ]);
    expect(lines.join('\n')).toMatch(/step 4.*loss/);
  });

  it('stops at a non-finite step with the caller\'s hint, having recorded the steps before it', async () => {
    const dir = runDir();
    const run = runSession(plan(dir), hooks(2, []));
    await expect(run).rejects.toBeInstanceOf(RuntimeError);
    await expect(run).rejects.toMatchObject({ help: 'lower it' });
    expect(readMetrics(dir).map((m) => m.step)).toEqual([0, 1]);
  });

  it('resumes after the checkpoint\'s step: later metrics are dropped, no evaluation at start', async () => {
    const dir = runDir();
    for (const step of [0, 1, 2, 3, 4]) appendMetrics(dir, { step, loss: 100 });
    const calls: string[] = [];
    const lines: string[] = [];
    const result = await runSession(plan(dir, { start: 2, resumed: true, steps: 3, log: (l) => lines.push(l) }), hooks(0, calls));
    expect(lines).toEqual([`resumed base at step 2 from ${dir}`]);
    expect(calls).toEqual(['step 3 lr 0.5', 'eval 3', 'save 3']);
    expect(readMetrics(dir).map((m) => m.step)).toEqual([0, 1, 2, 3]);
    expect(result.values).toEqual([7]);
  });

  it('fails when --skip-nonfinite skipped every step: nothing was trained', async () => {
    const dir = runDir();
    const all: SessionHooks = { ...hooks(0, []), step: async () => ({ value: NaN, tokensPerSecond: 1, nonFinite: 'loss', record: {} }) };
    const run = runSession(plan(dir, { skipNonFinite: true, nonFiniteHint: 'lower it, or pass --skip-nonfinite' }), all);
    await expect(run).rejects.toThrow(/^every one of the 5 steps was skipped as not finite: nothing was trained$/);
    await expect(run).rejects.toMatchObject({ help: 'lower it' });
  });

  it('stops on SIGINT after the step in flight: a checkpoint at that step, then Interrupted', async () => {
    const dir = runDir();
    const calls: string[] = [];
    const base = hooks(0, calls);
    const notices: string[] = [];
    const unwatch = watchInterrupts((signal) => notices.push(signal));
    try {
      const run = runSession(plan(dir, { steps: 9, checkpointEvery: 2 }), {
        ...base,
        step: async (step, lr) => {
          // the signal arrives while step 3 runs
          if (step === 3) process.emit('SIGINT', 'SIGINT');
          return base.step(step, lr);
        },
      });
      await expect(run).rejects.toBeInstanceOf(Interrupted);
      await expect(run).rejects.toMatchObject({ signal: 'SIGINT', stage: 'base', step: 3, checkpoint: 'checkpoint-3' });
    } finally {
      unwatch();
    }
    expect(notices).toEqual(['SIGINT']);
    expect(calls.filter((c) => !c.startsWith('eval'))).toEqual(['step 1 lr 0.5', 'step 2 lr 0.5', 'save 2', 'step 3 lr 0.5', 'save 3']);
    expect(readMetrics(dir).map((m) => m.step)).toEqual([0, 1, 2, 3]);
  });

  it('on SIGINT right after a checkpoint writes no second one', async () => {
    const dir = runDir();
    const calls: string[] = [];
    const base = hooks(0, calls);
    const unwatch = watchInterrupts(() => undefined);
    try {
      const run = runSession(plan(dir, { steps: 9, checkpointEvery: 2, evalAtStart: false }), {
        ...base,
        step: async (step, lr) => {
          if (step === 2) process.emit('SIGINT', 'SIGINT');
          return base.step(step, lr);
        },
      });
      await expect(run).rejects.toMatchObject({ step: 2, checkpoint: 'checkpoint-2' });
    } finally {
      unwatch();
    }
    expect(calls.filter((c) => c.startsWith('save'))).toEqual(['save 2']);
  });
});
