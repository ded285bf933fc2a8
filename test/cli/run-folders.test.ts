/**
 * Run folders as `moe train` and `moe run` treat them (issue 17, items 6–8): a folder holding files
 * moe did not write is refused; rerunning deletes only what moe wrote; another tool's
 * `checkpoint-N/` is never rotated, loaded or replaced; a fresh run refuses an earlier run's folder;
 * `--resume` without a checkpoint fails; one command at a time per folder (a lock naming its pid, a
 * dead pid's lock taken over); staging left by killed commands is cleaned. Every scenario snapshots
 * the files the test (the user) made and checks each is still there, unchanged.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import { appendMetrics, readMetrics } from '../../runtime/run/metrics.js';
import { openRunFolder } from '../../runtime/run/run-folder.js';
import { runCli } from '../helpers.js';
import { PIPELINE_SPEC } from '../runtime/run/pipeline-spec.js';
import { MINI_MODEL } from '../runtime/micro-spec.js';

const TRAIN_SPEC = `${MINI_MODEL}
tokenizer bytes { kind = byte }
data arith { synthetic = arithmetic { samples = 300 } }
pretrain base {
  model = Mini, data = arith, tokenizer = bytes
  seq_len = 32, batch = 4 sequences, steps = 30
  optimizer adamw { lr = 3e-3 }
  checkpoint { every = 3 steps, keep = 2 }
  eval { every = 1000 steps, batches = 1 }
  seed = 1
}
`;

const LOCK = '.moe-run.lock';

function tempSpec(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'moe-run-folders-'));
  writeFileSync(join(dir, 'spec.moe'), text);
  return dir;
}

/** Writes the user's files (relative path → text) under `root`. */
function userFiles(root: string, files: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return files;
}

/** Every user file still there with the same text. */
function expectIntact(root: string, files: Readonly<Record<string, string>>): void {
  const now = Object.fromEntries(Object.keys(files).map((p) => [p, existsSync(join(root, p)) ? readFileSync(join(root, p), 'utf8') : '<deleted>']));
  expect(now).toEqual(files);
}

/** The whole tree below `root`: paths and sizes, to show that a refused command changed nothing. */
function tree(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, encoding: 'utf8' })
    .map((p) => `${p}:${statSync(join(root, p)).isDirectory() ? 'dir' : statSync(join(root, p)).size}`)
    .sort();
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/** A live process that is not this one, for a lock held by "another command". */
function livePid(): number {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)'], { stdio: 'ignore' });
  children.push(child);
  return child.pid!;
}

/** The pid of a process that has exited: what a killed command leaves in its lock and staging names. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((done) => child.on('exit', done));
  return child.pid!;
}

const lockOf = (pid: number): string => `${JSON.stringify({ pid, started: '2025-01-01T00:00:00.000Z', command: 'moe train spec.moe' })}\n`;
const steps = (run: string) => readMetrics(run).filter((m) => m.step > 0).map((m) => m.step);
const train = (dir: string, out: string, ...extra: string[]) => runCli(['train', 'spec.moe', '--backend', 'cpu', '--out', out, ...extra], dir);

describe('moe train, run folders', () => {
  it('refuses a folder another tool wrote (an HF Trainer output): its checkpoints and metrics untouched, exit 1', { timeout: 60_000 }, async () => {
    const dir = tempSpec(TRAIN_SPEC);
    const hf = join(dir, 'hf');
    const user = userFiles(hf, {
      'checkpoint-1/trainer_state.json': '{"global_step": 1}\n',
      'checkpoint-2/trainer_state.json': '{"global_step": 2}\n',
      'checkpoint-2/optimizer.pt': 'torch',
      'metrics.jsonl': '{"step": 1, "loss": 9}\n',
    });
    const before = tree(hf);
    const r = await train(dir, 'hf', '--steps', '3');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: .*hf holds files moe did not write \(.*checkpoint-1.*\); nothing was changed\nhelp: /m);
    expect(r.stdout).toBe('');
    expectIntact(hf, user);
    expect(tree(hf)).toEqual(before);
  });

  it('refuses a fresh run into a used run folder, and a resume past the steps asked for; --force starts over deleting only what moe wrote', { timeout: 120_000 }, async () => {
    const dir = tempSpec(TRAIN_SPEC);
    const run = join(dir, 'r');
    expect((await train(dir, 'r', '--steps', '9')).code).toBe(0);
    const user = userFiles(run, { 'notes.txt': 'lr 3e-3 looked fine\n', 'hf-export/config.json': '{}\n' });
    const before = tree(run);

    // a 3-step run here would save checkpoint-3 and rotate it away at once (6 and 9 are newer)
    const fresh = await train(dir, 'r', '--steps', '3');
    expect(fresh.code).toBe(1);
    expect(fresh.stderr).toMatch(/^error: .*\/r holds an earlier run \(.*checkpoint-9.*\)\nhelp: pass --resume to continue it, --force to start over \(deletes only what moe wrote\), or choose another --out$/m);
    expect(tree(run)).toEqual(before);

    const past = await train(dir, 'r', '--steps', '3', '--resume');
    expect(past.code).toBe(1);
    expect(past.stderr).toMatch(/^error: the latest checkpoint in .*\/r is at step 9, past the 3 steps to train$/m);
    expect(`${past.stdout}${past.stderr}`).not.toMatch(/NaN/);
    expect(tree(run)).toEqual(before);

    const both = await train(dir, 'r', '--steps', '3', '--force', '--resume');
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/^error: --force starts a run over and --resume continues it: pass one of them$/m);
    expect(tree(run)).toEqual(before);

    // through the command line, with -o for --out
    const forced = await runCli(['train', 'spec.moe', '--backend', 'cpu', '-o', 'r', '--steps', '3', '--force'], dir);
    expect(forced.code).toBe(0);
    expect(forced.stderr).toMatch(/--force: deleted the earlier run in r \(only what moe wrote\)/);
    expect(forced.stdout).toMatch(/^base: 3 steps, loss \d.*; checkpoint r\/checkpoint-3\n$/);
    expect(existsSync(join(run, 'checkpoint-3', 'trainer_state.json'))).toBe(true);
    expect(existsSync(join(run, 'checkpoint-9'))).toBe(false);
    expect(steps(run)).toEqual([1, 2, 3]);
    expectIntact(run, user);
  });

  it('fails --resume on a folder without a checkpoint of moe\'s, naming it; resumes past another tool\'s checkpoint-N without touching it', { timeout: 120_000 }, async () => {
    const dir = tempSpec(TRAIN_SPEC);
    const none = await train(dir, 'empty', '--resume');
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^error: .*\/empty holds no checkpoint written by moe to resume from\nhelp: /m);
    expect(`${none.stdout}${none.stderr}`).not.toMatch(/NaN/);
    expect(existsSync(join(dir, 'empty'))).toBe(false);

    const run = join(dir, 'r');
    expect((await train(dir, 'r', '--steps', '3')).code).toBe(0);
    // the user copies another tool's checkpoint in: numbered past ours, it must be neither loaded nor rotated
    const user = userFiles(run, { 'checkpoint-99/trainer_state.json': '{"global_step": 99}\n', 'checkpoint-99/model.safetensors': 'not ours' });
    const resumed = await train(dir, 'r', '--steps', '9', '--resume');
    expect(resumed.stderr).not.toMatch(/^error/m);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(/resumed base at step 3/);
    expect(resumed.stdout).toMatch(/checkpoint r\/checkpoint-9\n$/);
    expect(readdirSync(run).filter((n) => n.startsWith('checkpoint-')).sort()).toEqual(['checkpoint-6', 'checkpoint-9', 'checkpoint-99']);
    expect(steps(run)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expectIntact(run, user);
  });

  it('resumes only the stage that wrote the folder; a corrupt trainer_state.json is one error naming it; a run stopped before its first checkpoint starts over without repeated steps', { timeout: 120_000 }, async () => {
    const dir = tempSpec(`${TRAIN_SPEC}pretrain more {
  model = Mini, data = arith, tokenizer = bytes
  seq_len = 32, batch = 4 sequences, steps = 30
  optimizer adamw { lr = 1e-3 }
  seed = 2
}
`);
    expect((await train(dir, 'r', '--steps', '3')).code).toBe(0);
    const state = join(dir, 'r', 'checkpoint-3', 'trainer_state.json');
    const other = await train(dir, 'r', '--steps', '6', '--stage', 'more', '--resume');
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/^error: .*\/r\/checkpoint-3\/trainer_state\.json is a checkpoint of stage base, not of more\nhelp: resume it with --stage base, or give more its own --out\n$/m);

    const kept = readFileSync(state, 'utf8');
    writeFileSync(state, kept.slice(0, 20));
    const corrupt = await train(dir, 'r', '--steps', '6', '--resume');
    expect(corrupt.code).toBe(1);
    expect(corrupt.stderr).toMatch(/^error: .*\/r\/checkpoint-3\/trainer_state\.json is not valid JSON \(.*\)$/m);
    expect(corrupt.stderr).not.toMatch(/internal error/);
    writeFileSync(state, '[1, 2]\n');
    expect((await train(dir, 'r', '--steps', '6', '--resume')).stderr).toMatch(/trainer_state\.json holds no trainer state: expected a JSON object with an integer `step`/);

    // what a kill before the first checkpoint leaves: metrics of steps 0-2, no checkpoint
    const early = join(dir, 'early');
    const opened = openRunFolder(early, () => undefined);
    for (const step of [0, 1, 2]) appendMetrics(early, { step, loss: 9 });
    opened.release();
    const restarted = await train(dir, 'early', '--steps', '3', '--resume');
    expect(restarted.code).toBe(0);
    expect(restarted.stderr).toMatch(/holds no checkpoint yet \(stopped before the first\): base starts over from step 0/);
    expect(readMetrics(early).map((m) => m.step)).toEqual([0, 1, 2, 3]);
    expect(readMetrics(early).some((m) => m.loss === 9)).toBe(false);
  });

  it('lets one command at a time write a run folder: a second refuses naming the first one\'s pid; a dead pid\'s lock is taken over', { timeout: 120_000 }, async () => {
    const dir = tempSpec(TRAIN_SPEC);
    // two trainings into one folder in this process: the second starts once the first reports a step
    let second: Promise<{ code: number; stdout: string; stderr: string }> | undefined;
    const io = {
      stdout: () => undefined,
      stderr: (t: string) => {
        if (second === undefined && /step \d+\/30/.test(t)) second = train(dir, 'r', '--steps', '3');
      },
      cwd: dir,
      color: false,
    };
    expect(await main(['train', 'spec.moe', '--backend', 'cpu', '--out', 'r', '--steps', '30'], io)).toBe(0);
    const refused = await second!;
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`^error: .*/r is in use by another moe command \\(pid ${process.pid}, since .*\\)\\nhelp: wait for it to finish`, 'm'));
    expect(steps(join(dir, 'r'))).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(existsSync(join(dir, 'r', LOCK))).toBe(false);

    // a lock held by another live process: refused, nothing changed
    const other = livePid();
    const user = userFiles(join(dir, 'r'), { [LOCK]: lockOf(other), 'notes.txt': 'mine\n' });
    const before = tree(join(dir, 'r'));
    const held = await train(dir, 'r', '--steps', '33', '--resume');
    expect(held.code).toBe(1);
    expect(held.stderr).toMatch(new RegExp(`is in use by another moe command \\(pid ${other}, since 2025-01-01T00:00:00.000Z\\)`));
    expect(tree(join(dir, 'r'))).toEqual(before);
    expectIntact(join(dir, 'r'), user);

    // its process gone: the lock is stale, taken over with a message
    const dead = await deadPid();
    writeFileSync(join(dir, 'r', LOCK), lockOf(dead));
    const taken = await train(dir, 'r', '--steps', '33', '--resume');
    expect(taken.code).toBe(0);
    expect(taken.stderr).toMatch(new RegExp(`taking over the lock of pid ${dead}, which is no longer running`));
    expect(existsSync(join(dir, 'r', LOCK))).toBe(false);
    expectIntact(join(dir, 'r'), { 'notes.txt': 'mine\n' });

    // a lock written on another machine (a shared file system): its pid cannot be checked here, so it
    // is never taken over, even when that pid number is dead on this machine
    const remote = `${JSON.stringify({ pid: dead, host: 'gpu-node-7', started: '2025-01-01T00:00:00.000Z', command: 'moe train spec.moe' })}\n`;
    writeFileSync(join(dir, 'r', LOCK), remote);
    const before2 = tree(join(dir, 'r'));
    const foreign = await train(dir, 'r', '--steps', '36', '--resume');
    expect(foreign.code).toBe(1);
    expect(foreign.stderr).toMatch(new RegExp(`is in use by another moe command \\(pid ${dead} on gpu-node-7, since 2025-01-01T00:00:00.000Z\\)\\nhelp: .*if that command no longer runs on gpu-node-7, delete `));
    expect(tree(join(dir, 'r'))).toEqual(before2);
  });

  it('cleans what killed commands left staged in its run folder, and only that', { timeout: 120_000 }, async () => {
    const dir = tempSpec(TRAIN_SPEC);
    const run = join(dir, 'r');
    expect((await train(dir, 'r', '--steps', '3')).code).toBe(0);
    const dead = await deadPid();
    const live = livePid();
    userFiles(run, { [`.checkpoint-6.tmp-${dead}/model.safetensors`]: 'half', [`.metrics.jsonl.tmp-${dead}`]: 'half' });
    const user = userFiles(run, { [`.checkpoint-6.tmp-${live}/model.safetensors`]: 'a live writer', 'draft.tmp': 'mine' });
    const r = await train(dir, 'r', '--steps', '6', '--resume');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/removed what killed commands left staged: /);
    expect(existsSync(join(run, `.checkpoint-6.tmp-${dead}`))).toBe(false);
    expect(existsSync(join(run, `.metrics.jsonl.tmp-${dead}`))).toBe(false);
    expectIntact(run, user);
  });
});

describe('moe run, stage folders', () => {
  const run = (dir: string, ...extra: string[]) => runCli(['run', 'spec.moe', 'base', '--backend', 'cpu', '--out', 'out', '--steps', '1', ...extra], dir);

  it('refuses a stage folder holding a user\'s files and no markers: nothing deleted, exit 1', { timeout: 60_000 }, async () => {
    const dir = tempSpec(PIPELINE_SPEC);
    const user = userFiles(join(dir, 'out'), { 'base/thesis.txt': 'four years of work\n' });
    // -o is --out
    const r = await runCli(['run', 'spec.moe', 'base', '--backend', 'cpu', '-o', 'out', '--steps', '1'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: .*out\/base holds files moe did not write \(thesis\.txt\); nothing was changed\nhelp: /m);
    expectIntact(join(dir, 'out'), user);
    expect(tree(join(dir, 'out'))).toEqual(['base/thesis.txt:19', 'base:dir']);
  });

  it('reruns a stage on --force and on a changed plan deleting only what moe wrote: the user\'s notes and hf-export/ stay', { timeout: 120_000 }, async () => {
    const dir = tempSpec(PIPELINE_SPEC);
    expect((await run(dir)).code).toBe(0);
    const user = userFiles(join(dir, 'out', 'base'), { 'notes.txt': 'try lr 5e-3\n', 'hf-export/config.json': '{"model_type": "x"}\n', 'checkpoint-7/trainer_state.json': '{}\n' });

    const forced = await run(dir, '--force');
    expect(forced.stderr).not.toMatch(/^error/m);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toMatch(/^base +pretrain +ran +.*out\/base\/checkpoint-1/m);
    expectIntact(join(dir, 'out', 'base'), user);

    writeFileSync(join(dir, 'spec.moe'), PIPELINE_SPEC.replace('lr = 1e-2', 'lr = 5e-3'));
    const changed = await run(dir);
    expect(changed.code).toBe(0);
    expect(changed.stderr).toMatch(/base \(pretrain\): running: its plan changed since it ran/);
    expectIntact(join(dir, 'out', 'base'), user);
    expect(readdirSync(join(dir, 'out', 'base')).filter((n) => n.startsWith('checkpoint-')).sort()).toEqual(['checkpoint-1', 'checkpoint-7']);
  });

  it('refuses a stage folder another command holds, naming its pid', { timeout: 120_000 }, async () => {
    const dir = tempSpec(PIPELINE_SPEC);
    expect((await run(dir)).code).toBe(0);
    const other = livePid();
    const user = userFiles(join(dir, 'out', 'base'), { [LOCK]: lockOf(other) });
    const before = tree(join(dir, 'out'));
    const r = await run(dir, '--force');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^error: .*out/base is in use by another moe command \\(pid ${other}, since .*\\)$`, 'm'));
    expect(tree(join(dir, 'out'))).toEqual(before);
    expectIntact(join(dir, 'out', 'base'), user);
  });
});
