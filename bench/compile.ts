/**
 * `npm run bench compile [FILE]`: `moe compile --emit graph` of a spec, warm, median of many runs:
 * check + lower + schema validation + verification + JSON text. The reference measured in the
 * same run is `moe check` alone, so the ratio is what lowering adds. Target (issue 3): under
 * 200 ms for examples/deepseek-v3.moe.
 */
import { resolve } from 'node:path';
import { nodeHost } from '../compiler/bind/node-host.js';
import { checkFile } from '../compiler/check/index.js';
import { lowerSpec } from '../compiler/lower/index.js';
import { median, time } from './timing.js';

export function benchCompile(file = 'examples/deepseek-v3.moe', runs = 50): void {
  const path = resolve(file);
  const cwd = process.cwd();
  const compile = (): void => {
    JSON.stringify(lowerSpec(checkFile(path, nodeHost), cwd), null, 1);
  };
  const check = (): void => {
    checkFile(path, nodeHost);
  };
  time(compile, 5);
  time(check, 5);
  const compileMs = median(time(compile, runs));
  const checkMs = median(time(check, runs));
  const target = 200;
  console.log(`moe compile --emit graph ${file} (warm, median of ${runs})`);
  console.log(`  compile to graph  ${compileMs.toFixed(2)} ms   (target < ${target} ms: ${compileMs < target ? 'met' : 'MISSED'})`);
  console.log(`  check alone       ${checkMs.toFixed(2)} ms   (reference, same run)`);
  console.log(`  ratio             ${(compileMs / checkMs).toFixed(1)}× check`);
}
