/** Formatting is `moe fmt`: one edit replacing the document, or none (already formatted, or broken). */
import { formatText } from '../syntax/format.js';
import type { TextEdit } from './types.js';

export function formatDocument(path: string, text: string): TextEdit[] {
  const result = formatText(path, text);
  if ('error' in result || !result.changed) return [];
  return [{ start: 0, end: text.length, newText: result.text }];
}
