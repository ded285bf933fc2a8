/** `moe explain CODE`: the long explanation of a diagnostic. */
import { catalog, isCode } from '../../compiler/diagnostics/catalog.js';
import { didYouMean } from '../../util/did-you-mean.js';
import { EXIT, UsageError, type CliIo } from '../io.js';

export function runExplain(code: string, io: CliIo): number {
  const normalized = /^\d+$/.test(code) ? `MOE${code}` : code.toUpperCase();
  if (!isCode(normalized)) {
    const hint = didYouMean(normalized, Object.keys(catalog));
    throw new UsageError(`unknown diagnostic code ${code}${hint ? `; ${hint}` : ''}`);
  }
  const entry = catalog[normalized];
  io.stdout(`${normalized} (${entry.severity}): ${entry.message}\n\n${entry.explain}\n`);
  return EXIT.ok;
}
