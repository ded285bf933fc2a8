/**
 * A child process of manifest-lock.test.ts: one of several commands that find the same stale lock
 * at once, again and again. It waits for the test's `go` file, then takes the lock COUNT times with
 * `tryLock` (lock.ts, the mechanism of the run lock and the manifest lock), each time marking that
 * it holds it (INSIDE, created with O_EXCL: a second holder at the same time cannot create it and
 * exits 3) and then dying as it were, holding it: it puts the stale lock STALE back in place.
 */
import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ourLock, tryLock } from '../../../runtime/run/lock.js';

const [lock, stale, inside, count, gate, name] = process.argv.slice(2);
if (lock === undefined || stale === undefined || inside === undefined || count === undefined || gate === undefined || name === undefined) {
  throw new Error('usage: lock-taker.ts LOCK STALE INSIDE COUNT GATE_DIR NAME');
}
const wait = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const staleLock = readFileSync(stale, 'utf8');
const contents = ourLock();
writeFileSync(join(gate, `ready-${name}`), '');
while (!existsSync(join(gate, 'go'))) wait(5);
for (let held = 0; held < Number(count); ) {
  if (!tryLock(lock, contents, () => undefined).taken) continue;
  try {
    closeSync(openSync(inside, 'wx'));
  } catch {
    process.stderr.write(`${name}: another command held the lock at the same time\n`);
    process.exit(3);
  }
  // held a moment, so that a second holder shows
  wait(1);
  rmSync(inside);
  writeFileSync(`${lock}.dying-${process.pid}`, staleLock);
  renameSync(`${lock}.dying-${process.pid}`, lock);
  held++;
}
