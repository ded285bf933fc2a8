/**
 * One change of a run folder's manifest at a time. The run lock (lock.ts) keeps out a second
 * writing command, but `moe plot` lists its plot while `moe train` runs, and two `moe plot`s may
 * run together: each reads the manifest, adds its entry and writes it back, so without this lock one
 * of two changes made together is lost (a checkpoint then reads as another tool's, a plot as the
 * user's). `.moe-run.json.lock` is a lock file like the run lock (pid, host; created whole or not
 * at all), held only while a command reads, changes and writes the manifest (and writes the entry,
 * for a plot): a busy lock is waited for. A lock whose pid is dead on this machine is taken over
 * without a word (what its holder wrote was replaced atomically, so the manifest is whole); one of
 * a live command, or of another machine, is refused once the wait is over, naming it.
 */
import { join } from 'node:path';
import { RuntimeError } from '../errors.js';
import { describeHolder, ourLock, releaseOf, tryLock, type LockContents } from './lock.js';

/** The manifest (ownership.ts reads and writes it); named here, next to its lock, which ownership.ts takes. */
export const MANIFEST_FILE = '.moe-run.json';
export const MANIFEST_LOCK_FILE = `${MANIFEST_FILE}.lock`;

/** Changes of the manifest take milliseconds (deleting a rotated checkpoint, seconds at most). */
const WAIT_MS = 30_000;
const RETRY_MS = 10;

/** How often this process holds each lock: a change made inside another (a claim inside a plot's write) takes it again. */
const held = new Map<string, number>();

/** Runs `fn` holding the manifest lock of `runDir` (which must exist), waiting up to `waitMs` for it. */
export function withManifestLock<T>(runDir: string, fn: () => T, waitMs = WAIT_MS): T {
  const path = join(runDir, MANIFEST_LOCK_FILE);
  const depth = held.get(path) ?? 0;
  const release = depth > 0 ? () => undefined : take(runDir, path, waitMs);
  held.set(path, depth + 1);
  try {
    return fn();
  } finally {
    if (depth === 0) held.delete(path);
    else held.set(path, depth);
    release();
  }
}

function take(runDir: string, path: string, waitMs: number): () => void {
  const contents = ourLock();
  const deadline = Date.now() + waitMs;
  for (;;) {
    const attempt = tryLock(path, contents, () => undefined);
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
