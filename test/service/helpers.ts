/** Helpers for language-service tests: analyse text in memory, with `¦` marking the cursor. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeHost } from '../../compiler/bind/node-host.js';
import { analyze, type Analysis } from '../../compiler/service/index.js';
import { memoryHost } from '../helpers.js';

export const CURSOR = '¦';
export const SPEC = '/mem/spec.moe';
export const examplesDir = join(import.meta.dirname, '..', '..', 'examples');

/** `text` without its cursor mark, and the mark's offset. */
export function cursor(marked: string): { text: string; offset: number } {
  const offset = marked.indexOf(CURSOR);
  if (offset < 0) throw new Error('no cursor mark ¦ in the text');
  return { text: marked.slice(0, offset) + marked.slice(offset + CURSOR.length), offset };
}

/** Analyses `text` as /mem/spec.moe next to in-memory `others` (paths relative to /mem). */
export function analyzeText(text: string, others: Record<string, string> = {}): Analysis {
  return analyze(SPEC, text, memoryHost({ 'spec.moe': text, 'data/corpus.txt': 'text\n', ...others }));
}

/** Analyses an example where it lies, so its data files are found. */
export function analyzeExample(name: string, text = exampleText(name)): Analysis {
  return analyze(join(examplesDir, name), text, nodeHost);
}

export function exampleText(name: string): string {
  return readFileSync(join(examplesDir, name), 'utf8');
}

/** The offset of the `nth` occurrence of `needle` (plus `delta`), failing loudly when absent. */
export function offsetOf(text: string, needle: string, delta = 0, nth = 1): number {
  let at = -1;
  for (let i = 0; i < nth; i++) {
    at = text.indexOf(needle, at + 1);
    if (at < 0) throw new Error(`\`${needle}\` not found`);
  }
  return at + delta;
}
