/**
 * Reading a data block's `source`: one file or a glob, relative to the entry spec's folder; text
 * files (one record per blank-line separated paragraph, so a one-file corpus can still be split)
 * or JSONL (one record per line, with the field names the data block declares).
 */
import { relative, resolve } from 'node:path';
import { escapes, readRegularFile, realPath } from '../../util/files.js';
import { expandGlob, hasMagic } from '../../util/glob.js';
import { RuntimeError } from '../errors.js';
import type { DataRecord } from './record.js';

export type SourceFormat = 'text' | 'jsonl';

export interface FieldNames {
  readonly prompt: string;
  readonly completion: string;
  readonly answer: string;
}

export interface SourceOptions {
  /** `text` or `jsonl`; by default from the extension (.jsonl / .ndjson / .json → jsonl) */
  readonly format?: SourceFormat;
  readonly fields?: Partial<FieldNames>;
  /** fields every JSONL record must have (SFT needs completion, GRPO prompts need prompt and answer) */
  readonly require?: readonly (keyof FieldNames)[];
}

export const DEFAULT_FIELDS: FieldNames = { prompt: 'prompt', completion: 'completion', answer: 'answer' };

export function formatOf(file: string, format?: SourceFormat): SourceFormat {
  return format ?? (/\.(jsonl|ndjson|json)$/i.test(file) ? 'jsonl' : 'text');
}

/** V8 cannot hold a longer string (about 2^29 characters), so a larger file could not be parsed anyway. */
export const MAX_SOURCE_BYTES = 512 * 2 ** 20;

const utf8 = new TextDecoder('utf-8');

/**
 * The records of `source` (a file or a glob relative to `baseDir`, the spec folder). Every match of
 * a glob must resolve inside `baseDir` (the checker refuses such a pattern too, but files may have
 * appeared since); a plain path was checked by the checker, or written by an earlier stage.
 */
export function readSource(source: string, baseDir: string, options: SourceOptions = {}): DataRecord[] {
  const files = expandGlob(source, baseDir);
  if (files.length === 0) {
    throw new RuntimeError(`data source ${source} matches no file (relative to ${baseDir})`, 'paths are relative to the folder of the entry spec');
  }
  if (hasMagic(source)) {
    const leaving = files.find((file) => escapes(resolve(baseDir), file));
    if (leaving !== undefined) {
      throw new RuntimeError(
        `data source ${source} matches ${leaving}, which resolves to ${realPath(leaving)}, outside the spec folder ${baseDir}`,
        'a glob may only match files inside the folder of the entry spec',
      );
    }
  }
  return files.flatMap((file) => {
    const bytes = readRegularFile(file, MAX_SOURCE_BYTES);
    if (typeof bytes === 'string') throw new RuntimeError(`cannot read the data source ${file}: ${bytes}`, 'a data source is a regular text or JSONL file');
    const text = utf8.decode(bytes);
    const shown = relative(process.cwd(), file) || file;
    return formatOf(file, options.format) === 'jsonl' ? parseJsonl(text, shown, options) : parseText(text, shown);
  });
}

export function parseText(text: string, file: string): DataRecord[] {
  const out: DataRecord[] = [];
  let line = 1;
  const separator = /^\r?\n(?:[ \t]*\r?\n)+$/;
  for (const block of text.split(/(\r?\n(?:[ \t]*\r?\n)+)/)) {
    // the odd entries are the separators: their lines are counted too, so `where` points at the paragraph
    if (!separator.test(block) && block.trim() !== '') out.push({ prompt: '', completion: block, where: `${file}:${line}` });
    line += (block.match(/\n/g) ?? []).length;
  }
  return out;
}

export function parseJsonl(text: string, file: string, options: SourceOptions = {}): DataRecord[] {
  const fields = { ...DEFAULT_FIELDS, ...options.fields };
  const required = options.require ?? [];
  const out: DataRecord[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const where = `${file}:${i + 1}`;
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      throw new RuntimeError(`${where}: malformed JSON: ${(error as Error).message}`, 'a JSONL file holds one JSON object per line');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new RuntimeError(`${where}: expected a JSON object, got ${Array.isArray(value) ? 'an array' : typeof value}`);
    }
    const obj = value as Record<string, unknown>;
    const get = (key: keyof FieldNames): string | undefined => {
      const name = fields[key];
      const v = obj[name];
      if (v === undefined || v === null) {
        if (required.includes(key)) throw new RuntimeError(`${where}: missing field "${name}" (the ${key})`, `set \`${key} = "…"\` in the data block to name another field`);
        return undefined;
      }
      if (typeof v === 'string') return v;
      if (key === 'answer' && (typeof v === 'number' || typeof v === 'boolean')) return String(v);
      throw new RuntimeError(`${where}: field "${name}" must be a string, got ${typeof v}`);
    };
    const prompt = get('prompt');
    const completion = get('completion');
    const answer = get('answer');
    if (prompt === undefined && completion === undefined) {
      throw new RuntimeError(`${where}: the record has neither "${fields.prompt}" nor "${fields.completion}"`, 'name the fields with `prompt = …` / `completion = …` in the data block');
    }
    out.push({ prompt: prompt ?? '', completion: completion ?? '', ...(answer !== undefined && { answer }), where });
  });
  return out;
}
