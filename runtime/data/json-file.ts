/**
 * A JSON file read as hostile input: a regular file under a size cap (never a pipe or a device),
 * and a parse error that says where, never what: V8's message quotes the text around the error,
 * which for a file that is not JSON at all (`/etc/shadow`) would print its first line.
 */
import { readRegularFile } from '../../util/files.js';
import { RuntimeError } from '../errors.js';

/** tokenizer.json files are 2–20 MB; a checkpoint's small JSON files far less */
export const MAX_JSON_BYTES = 256 * 2 ** 20;

const utf8 = new TextDecoder('utf-8');

export function readJsonFile(path: string, what: string, maxBytes = MAX_JSON_BYTES): unknown {
  const bytes = readRegularFile(path, maxBytes);
  if (typeof bytes === 'string') throw new RuntimeError(`cannot read ${what} ${path}: ${bytes}`);
  try {
    return JSON.parse(utf8.decode(bytes));
  } catch (error) {
    const at = /position (\d+)/.exec((error as Error).message)?.[1];
    throw new RuntimeError(`${what} ${path} is not valid JSON${at === undefined ? '' : ` (at byte ${at})`}`);
  }
}
