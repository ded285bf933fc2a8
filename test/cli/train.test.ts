/**
 * `moe train` as a user runs it: killed with SIGKILL mid-run and resumed with --resume, the loss
 * curve equals the uninterrupted run's exactly (cpu backend); a diverging run stops naming the
 * step and the tensor, or skips such batches when asked.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readMetrics } from '../../runtime/run/metrics.js';
import { runCli } from '../helpers.js';
import { MINI_MODEL } from '../runtime/micro-spec.js';

const repo = join(import.meta.dirname, '..', '..');

function spec(lr: string, steps: number): string {
  return `${MINI_MODEL}
tokenizer bytes { kind = byte }
data arith { synthetic = arithmetic { samples = 300 } }
pretrain base {
  model = Mini, data = arith, tokenizer = bytes
  seq_len = 32, batch = 4 sequences, steps = ${steps}
  optimizer adamw { lr = ${lr} }
  checkpoint { every = 3 steps, keep = 2 }
  eval { every = 1000 steps, batches = 1 }
  seed = 1
}
`;
}

function tempSpec(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'moe-train-cli-'));
  writeFileSync(join(dir, 'spec.moe'), text);
  return dir;
}

const losses = (run: string) => readMetrics(run).filter((m) => m.step > 0).map((m) => [m.step, m.loss]);

describe('moe train', () => {
  it('resumes after kill -9 with exactly the uninterrupted losses', { timeout: 300_000 }, async () => {
    const dir = tempSpec(spec('3e-3', 30));
    const straight = join(dir, 'straight');
    expect((await runCli(['train', 'spec.moe', '--backend', 'cpu', '--out', straight], dir)).code).toBe(0);

    const killed = join(dir, 'killed');
    const child = spawn(process.execPath, [join(repo, 'bin', 'moe.js'), 'train', 'spec.moe', '--backend', 'cpu', '--out', killed], { cwd: dir, stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((done) => child.on('exit', (_code, signal) => done(signal)));
    // kill as soon as a checkpoint past the first exists, mid-run
    while (!existsSync(join(killed, 'checkpoint-6')) && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(existsSync(join(killed, 'checkpoint-30'))).toBe(false);

    const resumed = await runCli(['train', 'spec.moe', '--backend', 'cpu', '--out', killed, '--resume'], dir);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(/resumed base at step \d+/);
    expect(losses(killed)).toEqual(losses(straight));
  });

  it('stops a diverging run naming the step and the tensor, or skips with --skip-nonfinite', { timeout: 120_000 }, async () => {
    const dir = tempSpec(spec('1e30', 6));
    const stopped = await runCli(['train', 'spec.moe', '--backend', 'cpu', '--out', join(dir, 'a')], dir);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toMatch(/^error: .*step \d+.*(loss|weight)/m);
    const skipped = await runCli(['train', 'spec.moe', '--backend', 'cpu', '--out', join(dir, 'b'), '--skip-nonfinite'], dir);
    expect(skipped.code).toBe(0);
    expect(skipped.stderr).toMatch(/skipp/);
  });

  it('stops on SIGINT after the step in flight with a checkpoint there, exit 130 and the resume command, which gives the uninterrupted losses', { timeout: 300_000 }, async () => {
    const dir = tempSpec(spec('3e-3', 30));
    const straight = join(dir, 'straight');
    expect((await runCli(['train', 'spec.moe', '--backend', 'cpu', '--out', straight], dir)).code).toBe(0);
    // every step logs its loss in parts that add up to it (this model: no MTP, aux or z loss)
    for (const m of readMetrics(straight).filter((r) => r.step > 0)) {
      const parts = m.loss_parts as Record<string, number>;
      expect(Object.keys(parts).sort()).toEqual(['aux', 'lm', 'mtp', 'z']);
      expect(parts.lm! + parts.mtp! + parts.aux! + parts.z!).toBeCloseTo(m.loss as number, 5);
    }

    const run = join(dir, 'stopped');
    const child = spawn(process.execPath, [join(repo, 'bin', 'moe.js'), 'train', 'spec.moe', '--backend', 'cpu', '-o', 'stopped'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    // interrupt once the first step is logged, before the first checkpoint (every 3 steps)
    const logged = (): boolean => existsSync(join(run, 'metrics.jsonl')) && readMetrics(run).some((m) => m.step >= 1);
    while (!logged() && child.exitCode === null) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    const last = Math.max(...readMetrics(run).map((m) => m.step));
    expect(last).toBeLessThan(30);
    expect(existsSync(join(run, `checkpoint-${last}`, 'trainer_state.json'))).toBe(true);
    expect(JSON.parse(readFileSync(join(run, `checkpoint-${last}`, 'trainer_state.json'), 'utf8')).step).toBe(last);
    expect(output).toMatch(new RegExp(`^interrupted: base stopped after step ${last}; checkpoint stopped/checkpoint-${last}$`, 'm'));
    const command = /^resume with: (.*)$/m.exec(output)?.[1];
    expect(command).toBe('moe train spec.moe --stage base -o stopped --resume --backend cpu');

    const resumed = await runCli(command!.split(' ').slice(1), dir);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(new RegExp(`resumed base at step ${last}`));
    expect(losses(run)).toEqual(losses(straight));
  });
});
