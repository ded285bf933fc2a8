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
  io.stdout(`${normalized} (${entry.severity}): ${messageShape(entry.message)}\n\n${entry.explain}\n`);
  return EXIT.ok;
}

/**
 * A message template as a reader sees it: each `{name}` the checker fills in is shown as `<name>`,
 * spelled like spec fields (`top_k (<top_k>) exceeds …`), not as the raw template syntax.
 */
export function messageShape(template: string): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => `<${name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}>`);
}
