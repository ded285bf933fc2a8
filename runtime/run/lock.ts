/**
 * One command at a time per run folder: `.moe-run.lock` holds the pid of the command writing there,
 * created with O_EXCL so that of two commands starting together exactly one gets it. A second
 * command refuses, naming the first one's pid; a lock whose pid is dead (the command was killed) is
 * taken over with a message. The lock names the machine too: a pid can only be checked on the
 * machine that wrote it, so a lock from another host (a run folder on a shared file system) is
 * never taken over — the second command refuses, naming the host, and the user decides. The same
 * lock files (`tryLock`) guard the manifest (manifest-lock.ts), whose lock is waited for instead.
 */
import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { RuntimeError } from '../errors.js';
import { pidAlive } from '../io/pid.js';

export const LOCK_FILE = '.moe-run.lock';

export interface LockContents {
  readonly pid: number;
  /** the machine the pid is on (absent in locks of older versions: this machine) */
  readonly host: string;
  readonly started: string;
  readonly command: string;
}

/** Whether the lock's command may still run: its pid is alive here, or it is on another machine (unknowable). */
const mayRun = (holder: LockContents): boolean => holder.host !== hostname() || pidAlive(holder.pid);

/** Takes the folder's lock (the folder must exist); returns its release. */
export function acquireLock(runDir: string, log: (line: string) => void): () => void {
  const path = join(runDir, LOCK_FILE);
  const contents = ourLock();
  const attempt = tryLock(path, contents, (stale) => log(`${runDir}: taking over the lock of ${stale === undefined ? 'an unreadable lock file' : `pid ${stale.pid}, which is no longer running`}`));
  if (!attempt.taken) throw inUse(runDir, path, attempt.holder);
  return releaseOf(path, contents);
}

/** What this command writes into a lock it takes. */
export const ourLock = (): LockContents => ({ pid: process.pid, host: hostname(), started: new Date().toISOString(), command: process.argv.slice(1).join(' ') });

/** Taken, or held by `holder` (undefined: a lock that could not be read), a command that may still run. */
export type LockAttempt = { readonly taken: true } | { readonly taken: false; readonly holder: LockContents | undefined };

/**
 * One try at the lock file `path`, never waiting: a lock whose command is gone (its pid is dead on
 * this machine, or the file is unreadable) is taken over, after `stale(its holder)`.
 */
export function tryLock(path: string, contents: LockContents, stale: (holder: LockContents | undefined) => void): LockAttempt {
  if (tryCreate(path, contents)) return { taken: true };
  const holder = readHolder(path);
  if (holder !== undefined && mayRun(holder)) return { taken: false, holder };
  stale(holder);
  const live = takeOver(path);
  if (live !== undefined) return { taken: false, holder: live };
  // another command may have taken the stale lock first: then it holds it
  return tryCreate(path, contents) ? { taken: true } : { taken: false, holder: readHolder(path) };
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
 * Moves a stale lock aside (rename is atomic: of two commands taking it over, one moves it) and
 * deletes it. What was moved is checked first: a live lock that another command created in the
 * meantime goes back, and its holder is returned (this command does not hold the lock then).
 */
function takeOver(path: string): LockContents | undefined {
  const aside = `${path}.stale-${process.pid}`;
  try {
    renameSync(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const moved = readHolder(aside);
  if (moved !== undefined && mayRun(moved)) {
    try {
      linkSync(aside, path);
    } catch {
      // a third command created a lock meanwhile: it holds the lock now
    }
    rmSync(aside, { force: true });
    return moved;
  }
  rmSync(aside, { force: true });
  return undefined;
}

/**
 * Creates the lock with its contents complete: written to a staging file, then hard-linked to the
 * lock's name, which fails if the name exists. A reader never sees a half-written lock.
 */
function tryCreate(path: string, contents: LockContents): boolean {
  const staging = `${path}.tmp-${process.pid}`;
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

function readHolder(path: string): LockContents | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockContents> | null;
    if (typeof parsed?.pid !== 'number') return undefined;
    return { pid: parsed.pid, host: typeof parsed.host === 'string' ? parsed.host : hostname(), started: String(parsed.started ?? '?'), command: String(parsed.command ?? '') };
  } catch {
    return undefined;
  }
}
