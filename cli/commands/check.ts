/** `moe check FILE… [--json] [--stats] [--allow-outside]` */
import { resolve } from 'node:path';
import { nodeHost } from '../../compiler/bind/node-host.js';
import { checkFile } from '../../compiler/check/index.js';
import { specStats, type SpecStats } from '../../compiler/check/stats.js';
import { renderText, toJson, type JsonDiagnostic } from '../../compiler/diagnostics/render.js';
import { EXIT, existingPath, type CliIo } from '../io.js';
import { renderStats } from '../stats-table.js';

export interface CheckOptions {
  readonly json?: boolean;
  readonly stats?: boolean;
  readonly allowOutside?: boolean;
}

export function runCheck(files: readonly string[], options: CheckOptions, io: CliIo): number {
  for (const file of files) existingPath(io, file, 'file');
  const results: { file: string; diagnostics: JsonDiagnostic[]; stats?: SpecStats }[] = [];
  let errors = 0;
  let warnings = 0;
  for (const file of files) {
    const result = checkFile(resolve(io.cwd, file), nodeHost, { allowOutside: options.allowOutside ?? false });
    errors += result.errorCount;
    warnings += result.diagnostics.length - result.errorCount;
    const stats = options.stats ? specStats(result.context) : undefined;
    if (options.json) {
      results.push({
        file,
        diagnostics: result.diagnostics.map((d) => toJson(d, result.program.sources, io.cwd)),
        ...(stats ? { stats } : {}),
      });
      continue;
    }
    for (const d of result.diagnostics) io.stderr(`${renderText(d, result.program.sources, { color: io.color, cwd: io.cwd })}\n\n`);
    if (stats) io.stdout(renderStats(stats));
  }
  if (options.json) {
    io.stdout(`${JSON.stringify({ files: results, errors, warnings }, null, 2)}\n`);
  } else {
    const summary = errors > 0 ? `${errors} error${errors === 1 ? '' : 's'}` : 'ok';
    const warned = warnings > 0 ? `, ${warnings} warning${warnings === 1 ? '' : 's'}` : '';
    io.stderr(`${summary}${warned}: checked ${files.length} file${files.length === 1 ? '' : 's'}\n`);
  }
  return errors > 0 ? EXIT.specErrors : EXIT.ok;
}
