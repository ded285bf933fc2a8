/**
 * The run manifest (`.moe-run.json`) is read, changed and written by every command that writes a
 * run folder, and `moe plot` writes one while `moe train` runs: the manifest lock serializes those
 * changes, so no command's entry is lost and the manifest always parses. A lock of a dead pid is
 * taken over; one a live command holds (here or on another machine) is waited for, then refused.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RuntimeError } from '../../../runtime/errors.js';
import { appendMetrics } from '../../../runtime/run/metrics.js';
import { MANIFEST_LOCK_FILE, withManifestLock } from '../../../runtime/run/manifest-lock.js';
import { MANIFEST_FILE, adoptFolder, claimEntry, ownedEntries } from '../../../runtime/run/ownership.js';
import { openRunFolder } from '../../../runtime/run/run-folder.js';

const WRITER = join(import.meta.dirname, 'manifest-writer.ts');
const REPO = join(import.meta.dirname, '..', '..', '..');

/** A run folder of moe's with metrics to plot and a file of the user's. */
function runFolder(): string {
  const run = mkdtempSync(join(tmpdir(), 'moe-manifest-'));
  adoptFolder(run, () => false);
  appendMetrics(run, { step: 1, loss: 3 });
  writeFileSync(join(run, 'notes.txt'), 'mine\n');
  return run;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/** Runs manifest-writer.ts; resolves with its exit code and stderr. */
function writer(args: readonly string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, ...args], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((done) => child.on('exit', (code) => done({ code, stderr })));
}

const lockOf = (pid: number, host = hostname()): string => `${JSON.stringify({ pid, host, started: '2025-01-01T00:00:00.000Z', command: 'moe plot run' })}\n`;

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((done) => child.on('exit', done));
  return child.pid!;
}

describe('the run manifest, changed by several commands at once', () => {
  it('loses no entry: three `moe plot`s and a command listing checkpoints, all started together', { timeout: 180_000 }, async () => {
    const run = runFolder();
    const gate = mkdtempSync(join(tmpdir(), 'moe-manifest-gate-'));
    const writers = [
      { mode: 'plot', prefix: 'a', count: 15 },
      { mode: 'plot', prefix: 'b', count: 15 },
      { mode: 'plot', prefix: 'c', count: 15 },
      { mode: 'claim', prefix: 'checkpoint', count: 60 },
    ];
    const exits = writers.map((w) => writer([w.mode, run, w.prefix, String(w.count), gate]));
    while (writers.some((w) => !existsSync(join(gate, `ready-${w.prefix}`)))) await new Promise((tick) => setTimeout(tick, 20));
    writeFileSync(join(gate, 'go'), '');
    expect(await Promise.all(exits)).toEqual(writers.map(() => ({ code: 0, stderr: '' })));

    const expected = writers.flatMap((w) => Array.from({ length: w.count }, (_, k) => `${w.prefix}-${k}${w.mode === 'plot' ? '.svg' : ''}`));
    const manifest = JSON.parse(readFileSync(join(run, MANIFEST_FILE), 'utf8')) as { entries: string[] };
    expect([...manifest.entries].sort()).toEqual(['events.out.tfevents.moe', 'metrics.jsonl', ...expected].sort());
    // every plot is there, the user's file untouched, no lock or staging copy left
    const plots = expected.filter((name) => name.endsWith('.svg'));
    expect(readdirSync(run).sort()).toEqual([MANIFEST_FILE, 'events.out.tfevents.moe', 'metrics.jsonl', 'notes.txt', ...plots].sort());
    expect(readFileSync(join(run, 'notes.txt'), 'utf8')).toBe('mine\n');
  });

  it('takes over the lock of a command that died holding it', async () => {
    const run = runFolder();
    writeFileSync(join(run, MANIFEST_LOCK_FILE), lockOf(await deadPid()));
    claimEntry(run, 'checkpoint-3');
    expect(ownedEntries(run)).toEqual(['metrics.jsonl', 'events.out.tfevents.moe', 'checkpoint-3']);
    expect(existsSync(join(run, MANIFEST_LOCK_FILE))).toBe(false);
  });

  it('does not make an empty folder foreign: a lock a killed command left while adopting it is taken over by the next command opening it', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'moe-manifest-empty-'));
    writeFileSync(join(empty, MANIFEST_LOCK_FILE), lockOf(await deadPid()));
    openRunFolder(empty, () => undefined).release();
    expect(readdirSync(empty)).toEqual([MANIFEST_FILE]);
  });

  it('refuses, once the wait is over, a lock a live command holds here or on another machine, naming it; the lock stays', () => {
    const run = runFolder();
    const elsewhere = lockOf(4242, 'gpu-box-7');
    writeFileSync(join(run, MANIFEST_LOCK_FILE), elsewhere);
    const change = (): void => withManifestLock(run, () => claimEntry(run, 'checkpoint-3'), 0);
    expect(change).toThrow(new RegExp(`^${run}/${MANIFEST_FILE} is being changed by another moe command \\(pid 4242 on gpu-box-7, since 2025-01-01T00:00:00\\.000Z\\); nothing was changed$`));
    try {
      change();
      expect.unreachable('the lock is held');
    } catch (error) {
      expect(error).toBeInstanceOf(RuntimeError);
      expect((error as RuntimeError).help).toBe(`run the command again when it is done; if that command no longer runs on gpu-box-7, delete ${join(run, MANIFEST_LOCK_FILE)}`);
    }
    expect(readFileSync(join(run, MANIFEST_LOCK_FILE), 'utf8')).toBe(elsewhere);

    // this machine: the test runner itself is a live pid that is not the caller's lock
    writeFileSync(join(run, MANIFEST_LOCK_FILE), lockOf(process.ppid));
    expect(change).toThrow(new RegExp(`\\(pid ${process.ppid}, since `));
    expect(ownedEntries(run)).toEqual(['metrics.jsonl', 'events.out.tfevents.moe']);
  });

  it('is taken again by the command holding it (a claim inside the write of a plot), and released when the outermost hold ends', () => {
    const run = runFolder();
    withManifestLock(run, () => {
      withManifestLock(run, () => claimEntry(run, 'plot.svg'));
      expect(existsSync(join(run, MANIFEST_LOCK_FILE))).toBe(true);
    });
    expect(existsSync(join(run, MANIFEST_LOCK_FILE))).toBe(false);
    expect(ownedEntries(run)).toContain('plot.svg');
  });
});
