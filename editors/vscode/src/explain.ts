/** `moe explain CODE` for the editor: the catalog's long explanation as a small markdown page. */
import { catalog, isCode } from '../../../compiler/diagnostics/catalog.js';

export function knownCodes(): string[] {
  return Object.keys(catalog);
}

export function explanation(code: string): string | undefined {
  const normalized = /^\d+$/.test(code) ? `MOE${code}` : code.toUpperCase();
  if (!isCode(normalized)) return undefined;
  const entry = catalog[normalized];
  return `# ${normalized} (${entry.severity})\n\n\`${entry.message}\`\n\n${entry.explain}\n`;
}
