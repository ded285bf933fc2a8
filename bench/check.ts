/**
 * `npm run bench check [FILE]`: how long `moe check --stats` takes on a spec, warm (in one process,
 * after warm-up runs), as the median of many runs. The reference measured in the same run is the
 * lexer alone on the same text, so the ratio says what parsing, binding, checking and statistics
 * cost on top of reading the tokens. Target (issue 2): under 50 ms for examples/deepseek-v3.moe.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { nodeHost } from '../compiler/bind/node-host.js';
import { checkFile } from '../compiler/check/index.js';
import { specStats } from '../compiler/check/stats.js';
import { lexer } from '../grammar/tokens.js';
import { median, time } from './timing.js';


export function benchCheck(file = 'examples/deepseek-v3.moe', runs = 200): void {
  const path = resolve(file);
  const text = readFileSync(path, 'utf8');
  const full = (): void => {
    const result = checkFile(path, nodeHost);
    if (result.errorCount > 0) throw new Error(`${file} has errors; benchmark a clean spec`);
    specStats(result.context);
  };
  const lexOnly = (): void => {
    lexer.tokenize(text);
  };
  time(full, 30);
  time(lexOnly, 30);
  const checkMs = median(time(full, runs));
  const lexMs = median(time(lexOnly, runs));
  const target = 50;
  console.log(`moe check --stats ${file} (warm, median of ${runs})`);
  console.log(`  check + stats   ${checkMs.toFixed(2)} ms   (target < ${target} ms: ${checkMs < target ? 'met' : 'MISSED'})`);
  console.log(`  lexer only      ${lexMs.toFixed(3)} ms   (reference, same run)`);
  console.log(`  ratio           ${(checkMs / lexMs).toFixed(1)}× the lexer`);
}
