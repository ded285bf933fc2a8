/**
 * One change of a run folder's manifest at a time. The run lock (lock.ts) keeps out a second
 * writing command, but `moe plot` lists its plot while `moe train` runs, and two `moe plot`s may
 * run together: each reads the manifest, adds its entry and writes it back, so without this lock one
 * of two changes made together is lost (a checkpoint then reads as another tool's, a plot as the
 * user's). `.moe-run.json.lock` is a lock file like the run lock (pid, host; created whole or not
 * at all), held only while a command reads, changes and writes the manifest (and writes the entry,
 * for a plot): a busy lock is waited for. A lock whose command is gone (its pid dead on this
 * machine, or another process's now) is taken over, said in one line on the log of the command
 * (what its holder wrote was replaced atomically, so the manifest is whole); one of a live command,
 * or of another machine, is refused once the wait is over, naming it.
 */
import { join, resolve } from 'node:path';
import { RuntimeError } from '../errors.js';
import { describeHolder, ourLock, releaseOf, takeoverLine, tryLock, type LockContents } from './lock.js';

type Log = (line: string) => void;

/** The manifest (ownership.ts reads and writes it); named here, next to its lock, which ownership.ts takes. */
export const MANIFEST_FILE = '.moe-run.json';
export const MANIFEST_LOCK_FILE = `${MANIFEST_FILE}.lock`;

/** Changes of the manifest take milliseconds (deleting a rotated checkpoint, seconds at most). */
const WAIT_MS = 30_000;
const RETRY_MS = 10;

/** How often this process holds each lock: a change made inside another (a claim inside a plot's write) takes it again. */
const held = new Map<string, number>();

/**
 * The log of the command that opened each run folder (run-folder.ts): the manifest is changed deep
 * inside a run (a checkpoint listed, metrics claimed), where no log is passed, and a takeover must
 * still be said where the command says everything else.
 */
const logs = new Map<string, Log>();

/** Says `runDir`'s manifest lock takeovers on `log` until the returned function is called. */
export function logManifestLock(runDir: string, log: Log): () => void {
  const key = resolve(runDir);
  logs.set(key, log);
  return () => {
    if (logs.get(key) === log) logs.delete(key);
  };
}

/** A folder no command opened (a plot's, a pipeline's summary folder): stderr, where commands log. */
const stderrLog: Log = (line) => void process.stderr.write(`${line}\n`);

export interface ManifestLockOptions {
  /** where a takeover is said (default: the log the folder was opened with, else stderr) */
  readonly log?: Log;
  /** how long a busy lock is waited for */
  readonly waitMs?: number;
}

/** Runs `fn` holding the manifest lock of `runDir` (which must exist), waiting for it if busy. */
export function withManifestLock<T>(runDir: string, fn: () => T, options: ManifestLockOptions = {}): T {
  const path = join(runDir, MANIFEST_LOCK_FILE);
  const depth = held.get(path) ?? 0;
  const log = options.log ?? logs.get(resolve(runDir)) ?? stderrLog;
  const release = depth > 0 ? () => undefined : take(runDir, path, options.waitMs ?? WAIT_MS, log);
  held.set(path, depth + 1);
  try {
    return fn();
  } finally {
    if (depth === 0) held.delete(path);
    else held.set(path, depth);
    release();
  }
}

function take(runDir: string, path: string, waitMs: number, log: Log): () => void {
  const contents = ourLock();
  const deadline = Date.now() + waitMs;
  for (;;) {
    const attempt = tryLock(path, contents, (stale) => log(takeoverLine(path, stale)));
    if (attempt.taken) return releaseOf(path, contents);
    if (Date.now() >= deadline) throw busy(runDir, path, attempt.holder);
    sleep(RETRY_MS);
  }
}

/** Manifest changes are synchronous (the commands' writers are): a blocking wait, not a timer. */
const sleep = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function busy(runDir: string, path: string, holder: LockContents | undefined): RuntimeError {
  const { who, gone } = describeHolder(holder);
  return new RuntimeError(`${join(runDir, MANIFEST_FILE)} is being changed by ${who}; nothing was changed`, `run the command again when it is done; if ${gone}, delete ${path}`);
}
