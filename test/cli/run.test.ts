/**
 * `moe run` as a user runs it: the summary table, skipping on a second run, exit 2 with the
 * stage's message when a stage fails (here: a kind this build cannot run), usage errors for
 * targets that name nothing.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runRun } from '../../cli/commands/run.js';
import type { StageRunner } from '../../runtime/run/stage-runner.js';
import { runCli } from '../helpers.js';
import { PIPELINE_SPEC } from '../runtime/run/pipeline-spec.js';

function tempSpec(): string {
  const dir = mkdtempSync(join(tmpdir(), 'moe-run-cli-'));
  writeFileSync(join(dir, 'spec.moe'), PIPELINE_SPEC);
  return dir;
}

const row = (stdout: string, stage: string): string => stdout.split('\n').find((l) => l.startsWith(`${stage} `)) ?? '';

describe('moe run', () => {
  it('prints a summary table; a second run skips the completed stages', { timeout: 120_000 }, async () => {
    const dir = tempSpec();
    const first = await runCli(['run', 'spec.moe', 'warm', '--backend', 'cpu', '--steps', '2'], dir);
    expect(first.stderr).not.toMatch(/error/);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^pipeline warm:\nstage +kind +status +time +checkpoint \/ output +summary\n/);
    expect(row(first.stdout, 'base')).toMatch(/^base +pretrain +ran +\d+s +runs\/base\/checkpoint-2 +2 steps, loss \d/);
    expect(row(first.stdout, 'cold')).toMatch(/^cold +sft +ran +\d+s +runs\/cold\/checkpoint-2 +2 steps/);
    expect(first.stderr).toMatch(/running pipeline warm: base → cold/);

    const second = await runCli(['run', 'spec.moe', 'warm', '--backend', 'cpu', '--steps', '2'], dir);
    expect(second.code).toBe(0);
    expect(row(second.stdout, 'base')).toMatch(/^base +pretrain +skipped +- +runs\/base\/checkpoint-2 +2 steps/);
    expect(row(second.stdout, 'cold')).toMatch(/^cold +sft +skipped/);
  });

  it('stops at a stage this build cannot run: exit 2, its message, the completed stages kept', { timeout: 120_000 }, async () => {
    const dir = tempSpec();
    const failed = await runCli(['run', 'spec.moe', 'full', '--backend', 'cpu', '--steps', '1'], dir);
    expect(failed.code).toBe(2);
    expect(failed.stderr).toMatch(/^error: stage rs failed: sample stages are not available in this build/m);
    expect(row(failed.stdout, 'cold')).toMatch(/ ran /);
    expect(row(failed.stdout, 'rs')).toMatch(/^rs +sample +failed/);
    expect(row(failed.stdout, 'final')).toMatch(/^final +sft +not run/);

    // with a sample runner plugged in, the run continues where it stopped
    const fake: StageRunner = (ctx) => {
      const file = join(ctx.runDir, 'samples.jsonl');
      writeFileSync(file, `${JSON.stringify({ prompt: 'What is 1+1?', completion: '<answer>2</answer>', reward: 1 })}\n`.repeat(8));
      return Promise.resolve({ samples: file, summary: ['8 kept', 'mean reward 1.00'] });
    };
    let stdout = '';
    const io = { stdout: (t: string) => (stdout += t), stderr: () => undefined, cwd: dir, color: false };
    expect(await runRun('spec.moe', 'full', { backend: 'cpu', steps: '1' }, io, { sample: fake })).toBe(0);
    expect(row(stdout, 'cold')).toMatch(/ skipped /);
    expect(row(stdout, 'rs')).toMatch(/^rs +sample +ran +\d+s +runs\/rs\/samples\.jsonl +8 kept$/);
    // further summary lines sit under the summary column
    expect(stdout).toMatch(/\n {20,}mean reward 1\.00\n/);
    expect(row(stdout, 'final')).toMatch(/^final +sft +ran +\d+s +runs\/final\/checkpoint-1 +1 steps/);
  });

  it('refuses targets that name nothing and a spec whose default pipeline is ambiguous', async () => {
    const dir = tempSpec();
    const unknown = await runCli(['run', 'spec.moe', 'cld'], dir);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^error: the spec has no pipeline or stage `cld`\nhelp: .*`cold`/);
    const ambiguous = await runCli(['run', 'spec.moe'], dir);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toMatch(/the spec has 2 pipelines and none is the default: warm, full/);
    const steps = await runCli(['run', 'spec.moe', '--steps', '0'], dir);
    expect(steps.code).toBe(2);
    expect(steps.stderr).toMatch(/--steps takes a whole number/);
    expect((await runCli(['run', 'missing.moe'], dir)).code).toBe(2);
  });
});
