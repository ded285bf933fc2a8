/**
 * The run manifest (`.moe-run.json`) is read, changed and written by every command that writes a
 * run folder, and `moe plot` writes one while `moe train` runs: the manifest lock serializes those
 * changes, so no command's entry is lost and the manifest always parses. A lock of a dead pid is
 * taken over (by exactly one of several commands finding it at once, said in one line), as is one
 * whose pid is another process now; one a live command holds (here or on another machine) is
 * waited for, then refused.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RuntimeError } from '../../../runtime/errors.js';
import { appendMetrics } from '../../../runtime/run/metrics.js';
import { pidStartTime } from '../../../runtime/io/pid.js';
import { MANIFEST_LOCK_FILE, logManifestLock, withManifestLock } from '../../../runtime/run/manifest-lock.js';
import { MANIFEST_FILE, adoptFolder, claimEntry, ownedEntries } from '../../../runtime/run/ownership.js';
import { openRunFolder } from '../../../runtime/run/run-folder.js';
import { runCli } from '../../helpers.js';

const WRITER = join(import.meta.dirname, 'manifest-writer.ts');
const TAKER = join(import.meta.dirname, 'lock-taker.ts');
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

/** Runs manifest-writer.ts (or `script`); resolves with its exit code and stderr. */
function writer(args: readonly string[], script = WRITER): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((done) => child.on('exit', (code) => done({ code, stderr })));
}

const lockOf = (pid: number, host = hostname(), pidStart?: number): string =>
  `${JSON.stringify({ pid, host, ...(pidStart === undefined ? {} : { pidStart }), started: '2025-01-01T00:00:00.000Z', command: 'moe plot run' })}\n`;

/** Starts the children together: each writes `ready-NAME` into the gate folder, then waits for `go`. */
async function startTogether(gate: string, names: readonly string[]): Promise<void> {
  while (names.some((name) => !existsSync(join(gate, `ready-${name}`)))) await new Promise((tick) => setTimeout(tick, 20));
  writeFileSync(join(gate, 'go'), '');
}

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
    await startTogether(gate, writers.map((w) => w.prefix));
    expect(await Promise.all(exits)).toEqual(writers.map(() => ({ code: 0, stderr: '' })));

    const expected = writers.flatMap((w) => Array.from({ length: w.count }, (_, k) => `${w.prefix}-${k}${w.mode === 'plot' ? '.svg' : ''}`));
    const manifest = JSON.parse(readFileSync(join(run, MANIFEST_FILE), 'utf8')) as { entries: string[] };
    expect([...manifest.entries].sort()).toEqual(['events.out.tfevents.moe', 'metrics.jsonl', ...expected].sort());
    // every plot is there, the user's file untouched, no lock or staging copy left
    const plots = expected.filter((name) => name.endsWith('.svg'));
    expect(readdirSync(run).sort()).toEqual([MANIFEST_FILE, 'events.out.tfevents.moe', 'metrics.jsonl', 'notes.txt', ...plots].sort());
    expect(readFileSync(join(run, 'notes.txt'), 'utf8')).toBe('mine\n');
  });

  it("takes over the lock of a command that died holding it, saying so in one line on the log of the command that opened the folder", async () => {
    const run = runFolder();
    const dead = await deadPid();
    writeFileSync(join(run, MANIFEST_LOCK_FILE), lockOf(dead));
    const lines: string[] = [];
    const unlog = logManifestLock(run, (line) => lines.push(line));
    claimEntry(run, 'checkpoint-3');
    unlog();
    expect(lines).toEqual([`${join(run, MANIFEST_LOCK_FILE)}: taking over the lock of pid ${dead}, which is no longer running`]);
    expect(ownedEntries(run)).toEqual(['metrics.jsonl', 'events.out.tfevents.moe', 'checkpoint-3']);
    expect(existsSync(join(run, MANIFEST_LOCK_FILE))).toBe(false);
  });

  it('says a takeover on the stderr of `moe plot`, the command that took it over', async () => {
    const run = runFolder();
    const dead = await deadPid();
    writeFileSync(join(run, MANIFEST_LOCK_FILE), lockOf(dead));
    const plotted = await runCli(['plot', run]);
    expect(plotted.code).toBe(0);
    expect(plotted.stderr).toBe(`${join(run, MANIFEST_LOCK_FILE)}: taking over the lock of pid ${dead}, which is no longer running\n`);
    expect(ownedEntries(run)).toContain('plot.svg');
  });

  it('does not make an empty folder foreign: a lock a killed command left while adopting it is taken over by the next command opening it, which says so', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'moe-manifest-empty-'));
    const dead = await deadPid();
    writeFileSync(join(empty, MANIFEST_LOCK_FILE), lockOf(dead));
    const lines: string[] = [];
    openRunFolder(empty, (line) => lines.push(line)).release();
    expect(readdirSync(empty)).toEqual([MANIFEST_FILE]);
    expect(lines).toEqual([`${join(empty, MANIFEST_LOCK_FILE)}: taking over the lock of pid ${dead}, which is no longer running`]);
  });

  it('lets exactly one of three commands that find one stale lock at the same instant hold it', { timeout: 180_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moe-lock-race-'));
    const gate = mkdtempSync(join(tmpdir(), 'moe-lock-race-gate-'));
    const lock = join(dir, MANIFEST_LOCK_FILE);
    const stale = lockOf(await deadPid());
    writeFileSync(join(gate, 'stale'), stale);
    writeFileSync(lock, stale);
    const names = ['a', 'b', 'c'];
    const exits = names.map((name) => writer([lock, join(gate, 'stale'), join(gate, 'inside'), '300', gate, name], TAKER));
    await startTogether(gate, names);
    expect(await Promise.all(exits)).toEqual(names.map(() => ({ code: 0, stderr: '' })));
    // no takeover marker or staging copy left behind: only the stale lock the last one put back
    expect(readdirSync(dir)).toEqual([MANIFEST_LOCK_FILE]);
    expect(readFileSync(lock, 'utf8')).toBe(stale);
  });

  it('is not stuck on the takeover marker of a command killed while taking over a stale lock: the next command takes it over and removes the marker', async () => {
    const run = runFolder();
    const stale = lockOf(await deadPid());
    writeFileSync(join(run, MANIFEST_LOCK_FILE), stale);
    // the marker's name: the lock's, `.takeover-`, the first 16 hex digits of the stale lock's SHA-256, the generation
    const marker = `${MANIFEST_LOCK_FILE}.takeover-${createHash('sha256').update(stale).digest('hex').slice(0, 16)}-0`;
    writeFileSync(join(run, marker), lockOf(await deadPid()));
    withManifestLock(run, () => claimEntry(run, 'checkpoint-3'), { waitMs: 0, log: () => undefined });
    expect(ownedEntries(run)).toContain('checkpoint-3');
    expect(readdirSync(run).filter((name) => name.includes('lock'))).toEqual([]);
  });

  it.runIf(pidStartTime(process.pid) !== undefined)('takes over at once the lock of a pid that is alive but another process now (pids are reused), and waits for the lock of the process that wrote it', () => {
    const run = runFolder();
    const other = process.ppid;
    const start = pidStartTime(other)!;
    const lines: string[] = [];
    const change = (): void => withManifestLock(run, () => claimEntry(run, 'checkpoint-3'), { waitMs: 0, log: (line) => lines.push(line) });

    writeFileSync(join(run, MANIFEST_LOCK_FILE), lockOf(other, hostname(), start));
    expect(change).toThrow(new RegExp(`\\(pid ${other}, since `));
    expect(lines).toEqual([]);

    writeFileSync(join(run, MANIFEST_LOCK_FILE), lockOf(other, hostname(), start + 1));
    change();
    expect(lines).toEqual([`${join(run, MANIFEST_LOCK_FILE)}: taking over the lock of pid ${other}, which is no longer running (pid ${other} is another process now)`]);
    expect(ownedEntries(run)).toContain('checkpoint-3');
    expect(existsSync(join(run, MANIFEST_LOCK_FILE))).toBe(false);
  });

  it('writes the start time of its process into its lock', () => {
    const run = runFolder();
    withManifestLock(run, () => {
      const lock = JSON.parse(readFileSync(join(run, MANIFEST_LOCK_FILE), 'utf8')) as { pid: number; pidStart?: number };
      expect(lock.pid).toBe(process.pid);
      expect(lock.pidStart).toBe(pidStartTime(process.pid));
    });
  });

  it('refuses, once the wait is over, a lock a live command holds here or on another machine, naming it; the lock stays', () => {
    const run = runFolder();
    const elsewhere = lockOf(4242, 'gpu-box-7');
    writeFileSync(join(run, MANIFEST_LOCK_FILE), elsewhere);
    const change = (): void => withManifestLock(run, () => claimEntry(run, 'checkpoint-3'), { waitMs: 0 });
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
