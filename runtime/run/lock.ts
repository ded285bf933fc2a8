/**
 * One command at a time per run folder: `.moe-run.lock` holds the pid of the command writing there,
 * created with O_EXCL so that of two commands starting together exactly one gets it. A second
 * command refuses, naming the first one's pid; a lock whose pid is dead (the command was killed),
 * or is another process's now (the lock records its process's start time: pids are reused), is
 * taken over with a message. The lock names the machine too: a pid can only be checked on the
 * machine that wrote it, so a lock from another host (a run folder on a shared file system) is
 * never taken over — the second command refuses, naming the host, and the user decides. The same
 * lock files (`tryLock`) guard the manifest (manifest-lock.ts), whose lock is waited for instead.
 */
import { createHash } from 'node:crypto';
import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { RuntimeError } from '../errors.js';
import { pidAlive, pidStartTime } from '../io/pid.js';

export const LOCK_FILE = '.moe-run.lock';

export interface LockContents {
  readonly pid: number;
  /** the machine the pid is on (absent in locks of older versions: this machine) */
  readonly host: string;
  /** the pid's process start time (io/pid.ts pidStartTime; absent in older locks and where unknown) */
  readonly pidStart?: number;
  readonly started: string;
  readonly command: string;
}

/** Whether the lock's process is the one running under its pid here (a start time not recorded or not readable: assumed). */
function sameProcess(holder: LockContents): boolean {
  if (!pidAlive(holder.pid)) return false;
  const now = holder.pidStart === undefined ? undefined : pidStartTime(holder.pid);
  return now === undefined || now === holder.pidStart;
}

/** Whether the lock's command may still run: its process is alive here, or it is on another machine (unknowable). */
const mayRun = (holder: LockContents): boolean => holder.host !== hostname() || sameProcess(holder);

/** The one line saying a stale lock of `holder` (undefined: an unreadable file) was taken over, at `where`. */
export const takeoverLine = (where: string, holder: LockContents | undefined): string =>
  `${where}: taking over the lock of ${
    holder === undefined ? 'an unreadable lock file' : `pid ${holder.pid}, which is no longer running${pidAlive(holder.pid) ? ` (pid ${holder.pid} is another process now)` : ''}`
  }`;

/** Takes the folder's lock (the folder must exist); returns its release. */
export function acquireLock(runDir: string, log: (line: string) => void): () => void {
  const path = join(runDir, LOCK_FILE);
  const contents = ourLock();
  const attempt = tryLock(path, contents, (stale) => log(takeoverLine(runDir, stale)));
  if (!attempt.taken) throw inUse(runDir, path, attempt.holder);
  return releaseOf(path, contents);
}

/** What this command writes into a lock it takes. */
export const ourLock = (): LockContents => {
  const pidStart = pidStartTime(process.pid);
  return { pid: process.pid, host: hostname(), ...(pidStart === undefined ? {} : { pidStart }), started: new Date().toISOString(), command: process.argv.slice(1).join(' ') };
};

/** Taken, or held by `holder` (undefined: a lock that could not be read), a command that may still run. */
export type LockAttempt = { readonly taken: true } | { readonly taken: false; readonly holder: LockContents | undefined };

/**
 * One try at the lock file `path`, never waiting: a lock whose command is gone (its process is not
 * running on this machine, or the file is unreadable) is taken over, then `stale(its holder)` is
 * called — by the one command that took it over, when several try at once.
 */
export function tryLock(path: string, contents: LockContents, stale: (holder: LockContents | undefined) => void): LockAttempt {
  if (tryCreate(path, contents)) return { taken: true };
  const raw = readRaw(path);
  // released meanwhile: free now, unless another command was quicker
  if (raw === undefined) return tryCreate(path, contents) ? { taken: true } : { taken: false, holder: readHolder(path) };
  const holder = parseHolder(raw);
  if (holder !== undefined && mayRun(holder)) return { taken: false, holder };
  const taken = takeOver(path, raw, contents);
  if (taken === true) {
    stale(holder);
    return { taken: true };
  }
  // another command took it over first, and may have released it since
  return tryCreate(path, contents) ? { taken: true } : { taken: false, holder: taken ?? readHolder(path) };
}

/** The release of a lock taken with `contents`: only our own lock, never one a later command took over. */
export function releaseOf(path: string, contents: LockContents): () => void {
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const holder = readHolder(path);
    if (holder?.pid === contents.pid && holder.host === contents.host) rmSync(path, { force: true });
  };
}

function inUse(runDir: string, path: string, holder: LockContents | undefined): RuntimeError {
  const { who, gone } = describeHolder(holder);
  return new RuntimeError(`${runDir} is in use by ${who}`, `wait for it to finish, or choose another output folder; if ${gone}, delete ${path}`);
}

/** Who holds a lock, and what to make sure of before deleting it. */
export function describeHolder(holder: LockContents | undefined): { who: string; gone: string } {
  if (holder === undefined) return { who: 'another moe command', gone: 'no moe command is running there' };
  const elsewhere = holder.host !== hostname();
  return {
    who: `another moe command (pid ${holder.pid}${elsewhere ? ` on ${holder.host}` : ''}, since ${holder.started})`,
    gone: elsewhere ? `that command no longer runs on ${holder.host}` : `pid ${holder.pid} is not moe`,
  };
}

/**
 * Replaces the stale lock `path` (whose file held `staleRaw`) by ours. Of the commands taking over
 * one stale lock, only the one that creates its takeover marker (O_EXCL, named after the stale
 * lock's contents) may replace it, after checking that the lock still is that stale one: a lock
 * another command took meanwhile is never moved or replaced, not even for a moment. A marker whose
 * command died while taking over is passed by (the next generation's marker). Returns true when
 * we hold the lock, else the command holding it or taking it over (undefined: unknown).
 */
function takeOver(path: string, staleRaw: string, contents: LockContents): true | LockContents | undefined {
  const id = createHash('sha256').update(staleRaw).digest('hex').slice(0, 16);
  const marker = (generation: number): string => `${path}.takeover-${id}-${generation}`;
  for (let generation = 0; ; generation++) {
    if (tryCreate(marker(generation), contents, stagingOf(path))) {
      try {
        if (readRaw(path) !== staleRaw) return readHolder(path);
        replace(path, contents);
      } finally {
        rmSync(marker(generation), { force: true });
      }
      // the lower generations' markers are of commands that died taking over this lock, now gone
      for (let dead = 0; dead < generation; dead++) rmSync(marker(dead), { force: true });
      return true;
    }
    const taker = readHolder(marker(generation));
    if (taker === undefined || mayRun(taker)) return taker;
  }
}

/** Where this process writes a lock file's contents before linking or renaming it into place. */
const stagingOf = (path: string): string => `${path}.tmp-${process.pid}`;

/** Puts our lock in place of the file at `path` in one step (rename replaces it atomically). */
function replace(path: string, contents: LockContents): void {
  const staging = stagingOf(path);
  writeFileSync(staging, `${JSON.stringify(contents)}\n`);
  try {
    renameSync(staging, path);
  } catch (error) {
    rmSync(staging, { force: true });
    throw error;
  }
}

/**
 * Creates the lock with its contents complete: written to a staging file, then hard-linked to the
 * lock's name, which fails if the name exists. A reader never sees a half-written lock.
 */
function tryCreate(path: string, contents: LockContents, staging = stagingOf(path)): boolean {
  writeFileSync(staging, `${JSON.stringify(contents)}\n`);
  try {
    linkSync(staging, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    rmSync(staging, { force: true });
  }
}

/** The lock file's text, or undefined when there is none (released meanwhile). */
function readRaw(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

const readHolder = (path: string): LockContents | undefined => {
  const raw = readRaw(path);
  return raw === undefined ? undefined : parseHolder(raw);
};

/** A lock file's holder; undefined for a file that is not a lock of ours (it names no pid). */
function parseHolder(raw: string): LockContents | undefined {
  let parsed: Partial<LockContents> | null;
  try {
    parsed = JSON.parse(raw) as Partial<LockContents> | null;
  } catch {
    return undefined;
  }
  if (typeof parsed?.pid !== 'number') return undefined;
  const pidStart = typeof parsed.pidStart === 'number' ? { pidStart: parsed.pidStart } : {};
  return { pid: parsed.pid, host: typeof parsed.host === 'string' ? parsed.host : hostname(), ...pidStart, started: String(parsed.started ?? '?'), command: String(parsed.command ?? '') };
}
