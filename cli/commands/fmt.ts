/** `moe fmt FILE… [--check] [--stdout]`: canonical layout, comments kept, idempotent. */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { formatText } from '../../compiler/syntax/format.js';
import { EXIT, UsageError, type CliIo } from '../io.js';

export interface FmtOptions {
  readonly check?: boolean;
  readonly stdout?: boolean;
}

export function runFmt(files: readonly string[], options: FmtOptions, io: CliIo): number {
  let unformatted = 0;
  let broken = 0;
  for (const file of files) {
    const path = resolve(io.cwd, file);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      throw new UsageError(`cannot read ${file}`);
    }
    const result = formatText(path, text);
    if ('error' in result) {
      broken++;
      io.stderr(`${file}: has syntax errors; run \`moe check ${file}\` (not formatted)\n`);
      continue;
    }
    if (options.stdout) io.stdout(result.text);
    else if (options.check) {
      if (result.changed) {
        unformatted++;
        io.stderr(`${file}: not formatted\n`);
      }
    } else if (result.changed) {
      writeFileSync(path, result.text);
      io.stderr(`formatted ${file}\n`);
    }
  }
  return broken > 0 || unformatted > 0 ? EXIT.specErrors : EXIT.ok;
}
