/**
 * `moe run` as a user runs it: the summary table, skipping on a second run, exit 2 with the
 * stage's message when a stage fails, the real sample, GRPO and generate stages on a micro spec,
 * usage errors for targets that name nothing.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runRun } from '../../cli/commands/run.js';
import { RuntimeError } from '../../runtime/errors.js';
import { readMetrics } from '../../runtime/run/metrics.js';
import type { StageRunner } from '../../runtime/stages/stage-runner.js';
import { runCli } from '../helpers.js';
import { PIPELINE_SPEC } from '../runtime/run/pipeline-spec.js';

// the micro pipeline spec plus GRPO from `cold` and a generation from the GRPO policy
const RL_SPEC = `${PIPELINE_SPEC}
grpo rl {
  from = cold, prompts = questions, reward = exact
  group = 2, batch = 2 prompts, steps = 2, max_new_tokens = 8
  optimizer adamw { lr = 1e-3 }
}
generate demo { from = rl, prompt = "What is 1+1?", max_new_tokens = 8 }
pipeline reinforce { base -> cold -> rl -> demo }
`;

// the micro pipeline spec plus an eval of the pretrained model on 4 held-out prompts
const JUDGE_SPEC = `${PIPELINE_SPEC}
data heldout { synthetic = arithmetic { samples = 4, style = plain, seed = 5 } }
eval judged { from = base, prompts = heldout, reward = exact, max_new_tokens = 8 }
pipeline judge { base -> judged }
`;

function tempSpec(text = PIPELINE_SPEC): string {
  const dir = mkdtempSync(join(tmpdir(), 'moe-run-cli-'));
  writeFileSync(join(dir, 'spec.moe'), text);
  return dir;
}

const row = (stdout: string, stage: string): string => stdout.split('\n').find((l) => l.startsWith(`${stage} `)) ?? '';

const repo = join(import.meta.dirname, '..', '..');

describe('moe run', () => {
  it('stops on SIGINT after the step in flight: a checkpoint there, exit 130, the command that resumes it', { timeout: 180_000 }, async () => {
    const dir = tempSpec(PIPELINE_SPEC.replace('seq_len = 32, batch = 4 sequences, steps = 3', 'seq_len = 32, batch = 4 sequences, steps = 40'));
    const base = join(dir, 'out', 'base');
    const child = spawn(process.execPath, [join(repo, 'bin', 'moe.js'), 'run', 'spec.moe', 'warm', '-o', 'out', '--backend', 'cpu'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    const logged = (): boolean => existsSync(join(base, 'metrics.jsonl')) && readMetrics(base).some((m) => m.step >= 2);
    while (!logged() && child.exitCode === null) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    const last = Math.max(...readMetrics(base).map((m) => m.step));
    expect(last).toBeLessThan(40);
    expect(existsSync(join(base, `checkpoint-${last}`, 'trainer_state.json'))).toBe(true);
    expect(output).toMatch(new RegExp(`^interrupted: base stopped after step ${last}; checkpoint out/base/checkpoint-${last}$`, 'm'));
    const command = /^resume with: (.*)$/m.exec(output)?.[1];
    expect(command).toBe('moe run spec.moe warm -o out --backend cpu');

    const resumed = await runCli(command!.split(' ').slice(1), dir);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(new RegExp(`resumed base at step ${last}`));
    expect(readMetrics(base).filter((m) => m.step > 0).map((m) => m.step)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  });

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

  it('runs an eval stage after pretraining: its accuracy in the table and in summary.json, which lists every stage; a user\'s summary.json is refused', { timeout: 120_000 }, async () => {
    const dir = tempSpec(JUDGE_SPEC);
    const first = await runCli(['run', 'spec.moe', 'judge', '--backend', 'cpu', '--steps', '2'], dir);
    expect(first.stderr).not.toMatch(/^error/m);
    expect(first.code).toBe(0);
    const shown = /^judged +eval +ran +\d+s +runs\/judged\/eval\.jsonl +accuracy (\d\.\d{3}) \((\d)\/4 prompts, rule accuracy\); rule means: accuracy (\d\.\d{3})$/.exec(row(first.stdout, 'judged'));
    expect(shown).not.toBeNull();
    // the figures agree with the scored completions the stage wrote: 4 prompts, greedy, one each
    const scored = readFileSync(join(dir, 'runs', 'judged', 'eval.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { prompt: string; components: { accuracy: number } });
    expect(scored).toHaveLength(4);
    const right = scored.filter((s) => s.components.accuracy === 1).length;
    const mean = scored.reduce((a, s) => a + s.components.accuracy, 0) / 4;
    expect(Number(shown![2])).toBe(right);
    expect(shown![1]).toBe((right / 4).toFixed(3));
    expect(shown![3]).toBe(mean.toFixed(3));

    const summary = () => JSON.parse(readFileSync(join(dir, 'runs', 'summary.json'), 'utf8')) as { stages: Record<string, unknown>[] };
    const { stages } = summary();
    expect(stages.map((s) => [s.name, s.kind, s.status])).toEqual([['base', 'pretrain', 'ran'], ['judged', 'eval', 'ran']]);
    expect(stages[0]).toMatchObject({ checkpoint: 'base/checkpoint-2', steps: 2 });
    expect(stages[0]!.seconds).toBeGreaterThan(0);
    expect(stages[1]).toMatchObject({ checkpoint: null, from: 'base', accuracy: right / 4, rules: { accuracy: mean } });
    expect(Object.keys(stages[1]!).sort()).toEqual(['accuracy', 'checkpoint', 'from', 'kind', 'name', 'rules', 'seconds', 'status']);
    expect((JSON.parse(readFileSync(join(dir, 'runs', '.moe-run.json'), 'utf8')) as { entries: string[] }).entries).toEqual(['summary.json']);

    // a second run skips both and says so, with the figures of the completed stages
    const second = await runCli(['run', 'spec.moe', 'judge', '--backend', 'cpu', '--steps', '2'], dir);
    expect(second.code).toBe(0);
    expect(summary().stages).toMatchObject([
      { name: 'base', status: 'skipped', seconds: 0, steps: 2 },
      { name: 'judged', status: 'skipped', accuracy: right / 4, rules: { accuracy: mean } },
    ]);

    // a summary.json moe did not write is left alone, and nothing runs
    const other = tempSpec(JUDGE_SPEC);
    mkdirSync(join(other, 'runs'));
    writeFileSync(join(other, 'runs', 'summary.json'), 'mine');
    const refused = await runCli(['run', 'spec.moe', 'judge', '--backend', 'cpu', '--steps', '2'], other);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/summary\.json was not written by moe; it is left as it is/);
    expect(readFileSync(join(other, 'runs', 'summary.json'), 'utf8')).toBe('mine');
    expect(existsSync(join(other, 'runs', 'base'))).toBe(false);
  });

  it('stops at a failing stage: exit 2, its message, the completed stages kept; then resumes there', { timeout: 120_000 }, async () => {
    const dir = tempSpec();
    const broken: StageRunner = () => Promise.reject(new RuntimeError('the sampler broke', 'fix it'));
    let stdout = '';
    let stderr = '';
    const io = { stdout: (t: string) => (stdout += t), stderr: (t: string) => (stderr += t), cwd: dir, color: false };
    expect(await runRun('spec.moe', 'full', { backend: 'cpu', steps: '1' }, io, { sample: broken })).toBe(1);
    expect(stderr).toMatch(/^error: stage rs failed: the sampler broke\nhelp: fix it/m);
    expect(row(stdout, 'cold')).toMatch(/ ran /);
    expect(row(stdout, 'rs')).toMatch(/^rs +sample +failed/);
    expect(row(stdout, 'final')).toMatch(/^final +sft +not run/);

    // the real sample stage: 20 prompts × 2 completions, the best of each kept (min_reward 0)
    const resumed = await runCli(['run', 'spec.moe', 'full', '--backend', 'cpu', '--steps', '1'], dir);
    expect(resumed.stderr).not.toMatch(/^error/m);
    expect(resumed.code).toBe(0);
    expect(row(resumed.stdout, 'cold')).toMatch(/ skipped /);
    expect(row(resumed.stdout, 'rs')).toMatch(/^rs +sample +ran +\d+s +runs\/rs\/samples\.jsonl +20 prompts × 2: mean reward \d\.\d{3}, kept 20 \(best, reward ≥ 0\)$/);
    const kept = readFileSync(join(dir, 'runs', 'rs', 'samples.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(kept).toHaveLength(20);
    expect(kept.every((k) => typeof k.prompt === 'string' && typeof k.completion === 'string' && typeof k.reward === 'number' && typeof k.answer === 'string')).toBe(true);
    expect(row(resumed.stdout, 'final')).toMatch(/^final +sft +ran +\d+s +runs\/final\/checkpoint-1 +1 steps/);
  });

  it('never replaces a samples.jsonl or generations.jsonl that moe did not write in a stage folder of its own', { timeout: 120_000 }, async () => {
    const dir = tempSpec(`${PIPELINE_SPEC}\ngenerate demo { from = base, prompt = "1+1=", max_new_tokens = 4 }\n`);
    const broken: StageRunner = () => Promise.reject(new RuntimeError('interrupted', 'run again'));
    const io = { stdout: () => undefined, stderr: () => undefined, cwd: dir, color: false };
    // a failed first attempt leaves the stage folders moe's (they hold .moe-run.json) and without outputs
    expect(await runRun('spec.moe', 'full', { backend: 'cpu', steps: '1' }, io, { sample: broken })).toBe(1);
    expect(await runRun('spec.moe', 'demo', { backend: 'cpu', steps: '1' }, io, { generate: broken })).toBe(1);
    // the user keeps files of those names there
    const mine = '{"prompt": "2+2", "completion": "4", "note": "hand-checked"}\n';
    writeFileSync(join(dir, 'runs', 'rs', 'samples.jsonl'), mine);
    writeFileSync(join(dir, 'runs', 'demo', 'generations.jsonl'), mine);

    const sample = await runCli(['run', 'spec.moe', 'full', '--backend', 'cpu', '--steps', '1'], dir);
    // refused like `moe train` and `moe plot` refuse such a file: exit 1
    expect(sample.code).toBe(1);
    expect(sample.stderr).toMatch(/^error: stage rs failed: .*runs\/rs\/samples\.jsonl was not written by moe; it is left as it is\nhelp: move it out of /m);
    expect(readFileSync(join(dir, 'runs', 'rs', 'samples.jsonl'), 'utf8')).toBe(mine);

    const generate = await runCli(['run', 'spec.moe', 'demo', '--backend', 'cpu', '--steps', '1'], dir);
    expect(generate.code).toBe(1);
    expect(generate.stderr).toMatch(/^error: stage demo failed: .*runs\/demo\/generations\.jsonl was not written by moe; it is left as it is\nhelp: move it out of /m);
    expect(readFileSync(join(dir, 'runs', 'demo', 'generations.jsonl'), 'utf8')).toBe(mine);
  });

  it('runs GRPO and a generation from its policy, logging every reward component', { timeout: 120_000 }, async () => {
    const dir = tempSpec(RL_SPEC);
    const r = await runCli(['run', 'spec.moe', 'reinforce', '--backend', 'cpu'], dir);
    expect(r.stderr).not.toMatch(/^error/m);
    expect(r.code).toBe(0);
    expect(row(r.stdout, 'rl')).toMatch(/^rl +grpo +ran +\d+s +runs\/rl\/checkpoint-2 +2 steps, mean reward \d\.\d{3} \(first fifth\) → \d\.\d{3} \(last fifth\)$/);
    expect(row(r.stdout, 'demo')).toMatch(/^demo +generate +ran +\d+s +runs\/demo\/generations\.jsonl +"What is 1\+1\?" → ".*"$/);
    const metrics = readMetrics(join(dir, 'runs', 'rl'));
    expect(metrics.map((m) => m.step)).toEqual([1, 2]);
    for (const m of metrics) {
      for (const key of ['loss', 'reward', 'kl', 'clip_fraction', 'entropy', 'completion_length', 'grad_norm']) expect(Number.isFinite(m[key])).toBe(true);
      expect(Object.keys(m.components as object)).toEqual(['accuracy']);
    }
    // the first update starts at the rollout policy: ratio 1, KL to the reference 0
    expect(metrics[0]!.kl).toBeLessThan(1e-5);
    const [generation] = readFileSync(join(dir, 'runs', 'demo', 'generations.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { ids: number[]; finish: string });
    expect(generation!.ids.length).toBeGreaterThan(0);
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
