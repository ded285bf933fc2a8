/**
 * A child process of manifest-lock.test.ts: one of several commands writing one run folder at
 * once. It waits for the test's `go` file (so all of them start together), then lists COUNT
 * entries: `moe plot RUN -o RUN/PREFIX-k.svg` for `plot`, `claimEntry` (as `moe train` lists a
 * checkpoint) for `claim`.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../../cli/main.js';
import { claimEntry } from '../../../runtime/run/ownership.js';

const [mode, run, prefix, count, gate] = process.argv.slice(2);
if (mode === undefined || run === undefined || prefix === undefined || count === undefined || gate === undefined) {
  throw new Error('usage: manifest-writer.ts plot|claim RUN PREFIX COUNT GATE_DIR');
}
writeFileSync(join(gate, `ready-${prefix}`), '');
// a busy wait without timers: every writer starts the moment the test creates `go`
while (!existsSync(join(gate, 'go'))) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
const quiet = { stdout: () => undefined, stderr: (text: string) => process.stderr.write(text), cwd: process.cwd(), color: false };
for (let k = 0; k < Number(count); k++) {
  const name = `${prefix}-${k}`;
  if (mode === 'claim') claimEntry(run, name);
  else if ((await main(['plot', run, '-o', join(run, `${name}.svg`)], quiet)) !== 0) process.exit(1);
}
