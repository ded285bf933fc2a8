/**
 * One command at a time per run folder: `.moe-run.lock` holds the pid of the command writing there,
 * created with O_EXCL so that of two commands starting together exactly one gets it. A second
 * command refuses, naming the first one's pid; a lock whose pid is dead (the command was killed) is
 * taken over with a message. The lock names the machine too: a pid can only be checked on the
 * machine that wrote it, so a lock from another host (a run folder on a shared file system) is
 * never taken over — the second command refuses, naming the host, and the user decides.
 */
import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { RuntimeError } from '../errors.js';
import { pidAlive } from '../io/pid.js';

export const LOCK_FILE = '.moe-run.lock';

interface LockContents {
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
  const contents: LockContents = { pid: process.pid, host: hostname(), started: new Date().toISOString(), command: process.argv.slice(1).join(' ') };
  if (!tryCreate(path, contents)) {
    const holder = readHolder(path);
    if (holder !== undefined && mayRun(holder)) throw inUse(runDir, path, holder);
    log(`${runDir}: taking over the lock of ${holder === undefined ? 'an unreadable lock file' : `pid ${holder.pid}, which is no longer running`}`);
    takeOver(runDir, path);
    // another command may have taken the stale lock first: then it holds it
    if (!tryCreate(path, contents)) throw inUse(runDir, path, readHolder(path));
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    // only our own lock: never one a later command took over
    const holder = readHolder(path);
    if (holder?.pid === process.pid && holder.host === contents.host) rmSync(path, { force: true });
  };
}

function inUse(runDir: string, path: string, holder: LockContents | undefined): RuntimeError {
  const elsewhere = holder !== undefined && holder.host !== hostname();
  const who = holder === undefined ? 'another moe command' : `another moe command (pid ${holder.pid}${elsewhere ? ` on ${holder.host}` : ''}, since ${holder.started})`;
  const gone = holder === undefined ? 'no moe command is running there' : elsewhere ? `that command no longer runs on ${holder.host}` : `pid ${holder.pid} is not moe`;
  return new RuntimeError(`${runDir} is in use by ${who}`, `wait for it to finish, or choose another output folder; if ${gone}, delete ${path}`);
}

/**
 * Moves a stale lock aside (rename is atomic: of two commands taking it over, one moves it) and
 * deletes it. What was moved is checked first: a live lock that another command created in the
 * meantime goes back and this command refuses.
 */
function takeOver(runDir: string, path: string): void {
  const aside = `${path}.stale-${process.pid}`;
  try {
    renameSync(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  const moved = readHolder(aside);
  if (moved !== undefined && mayRun(moved)) {
    try {
      linkSync(aside, path);
    } catch {
      // a third command created a lock meanwhile: it holds the folder now
    }
    rmSync(aside, { force: true });
    throw inUse(runDir, path, moved);
  }
  rmSync(aside, { force: true });
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
