/**
 * `npm run bench train [SPEC] [STEPS]`: training tokens/s of a spec's first pretrain stage on each
 * backend available here (median over the steps after the first), with the ratio to the cpu
 * backend measured in the same run.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { nodeHost } from '../compiler/bind/node-host.js';
import { checkFile } from '../compiler/check/index.js';
import { lowerSpec } from '../compiler/lower/index.js';
import { selectBackend, type BackendName } from '../runtime/backend/select.js';
import { readMetrics } from '../runtime/run/metrics.js';
import { train } from '../runtime/run/train.js';
import { median } from './timing.js';

export async function benchTrain(spec = 'examples/r1-tiny.moe', steps = 6): Promise<void> {
  const path = resolve(spec);
  const document = lowerSpec(checkFile(path, nodeHost), process.cwd());
  const results: { name: BackendName; tokensPerSecond: number }[] = [];
  for (const name of ['cpu', 'wasm', 'webgpu'] as const) {
    try {
      await selectBackend(name);
    } catch (error) {
      console.log(`  ${name.padEnd(6)} not available: ${(error as Error).message}`);
      continue;
    }
    const run = mkdtempSync(join(tmpdir(), `moe-bench-${name}-`));
    await train({ document, specDir: dirname(path), runDir: run, steps, progress: { write: () => undefined, tty: false }, log: () => undefined });
    const rates = readMetrics(run)
      .filter((m) => m.step > 1 && typeof m.tokens_per_s === 'number')
      .map((m) => m.tokens_per_s as number);
    results.push({ name, tokensPerSecond: median(rates) });
  }
  const cpu = results.find((r) => r.name === 'cpu')?.tokensPerSecond ?? NaN;
  console.log(`training ${spec}, ${steps} steps per backend (median tokens/s after the first step)`);
  for (const r of results) console.log(`  ${r.name.padEnd(6)} ${Math.round(r.tokensPerSecond).toString().padStart(7)} tokens/s   ${(r.tokensPerSecond / cpu).toFixed(1)}× cpu`);
}
