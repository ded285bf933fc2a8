/**
 * Reading a data block's `source`: one file or a glob, relative to the entry spec's folder; text
 * files (one record per blank-line separated paragraph, so a one-file corpus can still be split),
 * JSONL (one record per line) or Parquet (one record per row). JSONL and Parquet rows follow the
 * Hugging Face dataset conventions (`rowRecord`). A file whose bytes are not what its format says is
 * refused (MOE7101); bytes that are not UTF-8 are replaced and counted in a warning (MOE7103).
 */
import { relative, resolve } from 'node:path';
import { escapes, readRegularFile, realPath } from '../../util/files.js';
import { expandGlob, hasMagic } from '../../util/glob.js';
import { RuntimeError } from '../errors.js';
import { asMessages, chatParts, type ChatTemplate } from './chat.js';
import { dataError, dataWarning, stderrWarn, type Warn } from './data-error.js';
import { hasParquetMagic, readParquetRows } from './parquet.js';
import type { DataRecord } from './record.js';

export type SourceFormat = 'text' | 'jsonl' | 'parquet';

export interface FieldNames {
  readonly prompt: string;
  readonly completion: string;
  readonly answer: string;
  /** a whole document (pretraining), read when a row has neither prompt nor completion */
  readonly text: string;
  /** a chat conversation: a list of `{role, content}` */
  readonly messages: string;
}

export interface SourceOptions {
  /** by default from the extension: .parquet → parquet; .jsonl / .ndjson / .json → jsonl; else text */
  readonly format?: SourceFormat;
  readonly fields?: Partial<FieldNames>;
  /** fields every row must have (SFT needs completion, GRPO prompts need prompt and answer) */
  readonly require?: readonly ('prompt' | 'completion' | 'answer')[];
  /** renders `messages` rows; without one such rows are refused (a prompt set takes `prompt` rows) */
  readonly chat?: ChatTemplate;
  /** where warnings go (replaced bytes); stderr by default */
  readonly warn?: Warn;
}

export const DEFAULT_FIELDS: FieldNames = { prompt: 'prompt', completion: 'completion', answer: 'answer', text: 'text', messages: 'messages' };

export function formatOf(file: string, format?: SourceFormat): SourceFormat {
  if (format) return format;
  if (/\.parquet$/i.test(file)) return 'parquet';
  return /\.(jsonl|ndjson|json)$/i.test(file) ? 'jsonl' : 'text';
}

/** V8 cannot hold a longer string (about 2^29 characters), so a larger file could not be parsed anyway. */
export const MAX_SOURCE_BYTES = 512 * 2 ** 20;

const utf8 = new TextDecoder('utf-8');
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const FORMAT_NAMES: Record<SourceFormat, string> = { text: 'text', jsonl: 'JSONL', parquet: 'Parquet' };

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
    if (typeof bytes === 'string') throw new RuntimeError(`cannot read the data source ${file}: ${bytes}`, 'a data source is a regular text, JSONL or Parquet file');
    const shown = relative(process.cwd(), file) || file;
    const format = formatOf(file, options.format);
    if (format === 'parquet') return parseParquet(bytes, shown, options);
    const text = decodeText(bytes, shown, format, options.warn ?? stderrWarn);
    if (format === 'jsonl') return parseJsonl(text, shown, options);
    // a paragraph is a document: it has no prompt or answer a prompt set could use
    const missing = options.require?.find((key) => key !== 'completion');
    if (missing) throw dataError('MOE7102', `${shown}:1: a text file has no ${missing} field`, `a prompt set is JSONL or Parquet with \`${missing}\` in every row`);
    return parseText(text, shown);
  });
}

/** A text or JSONL file's bytes as text: refused when they are binary, a warning when some are not UTF-8. */
export function decodeText(bytes: Uint8Array, file: string, format: 'text' | 'jsonl', warn: Warn): string {
  const refuse = (reason: string): never => {
    throw dataError('MOE7101', `${file} is not ${FORMAT_NAMES[format]}: ${reason}`, 'rename the file or set `format = text | jsonl | parquet` in the data block');
  };
  if (bytes.length >= 4 && hasParquetMagic(bytes)) refuse('it is a Parquet file (it starts with PAR1)');
  const nul = bytes.indexOf(0);
  if (nul >= 0) refuse(`it holds binary data (a NUL byte on line ${lineAt(bytes, nul)})`);
  const text = utf8.decode(bytes);
  const replaced = countReplaced(text) - countGenuineReplacement(bytes);
  if (replaced > 0) warn(dataWarning('MOE7103', `${file}: ${replaced} byte sequence(s) are not UTF-8 and were replaced by U+FFFD (first on line ${firstBadLine(bytes)})`));
  return text;
}

function lineAt(bytes: Uint8Array, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (bytes[i] === 0x0a) line++;
  return line;
}

function countReplaced(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\uFFFD'); i >= 0; i = text.indexOf('\uFFFD', i + 1)) n++;
  return n;
}

/** U+FFFD written in the file itself (EF BF BD) is a character, not a replacement. */
function countGenuineReplacement(bytes: Uint8Array): number {
  let n = 0;
  for (let i = bytes.indexOf(0xef); i >= 0 && i + 2 < bytes.length; i = bytes.indexOf(0xef, i + 1)) {
    if (bytes[i + 1] === 0xbf && bytes[i + 2] === 0xbd) n++;
  }
  return n;
}

function firstBadLine(bytes: Uint8Array): number {
  let start = 0;
  for (let line = 1; start <= bytes.length; line++) {
    const end = bytes.indexOf(0x0a, start);
    const stop = end < 0 ? bytes.length : end;
    try {
      strictUtf8.decode(bytes.subarray(start, stop));
    } catch {
      return line;
    }
    start = stop + 1;
  }
  return 1;
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
  const out: DataRecord[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const where = `${file}:${i + 1}`;
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      throw dataError('MOE7102', `${where}: not JSON: ${(error as Error).message}`, 'a JSONL file holds one JSON object per line');
    }
    out.push(rowRecord(value, where, options));
  });
  return out;
}

export function parseParquet(bytes: Uint8Array, file: string, options: SourceOptions = {}): DataRecord[] {
  const refuse = (reason: string): never => {
    throw dataError('MOE7101', `${file} is not Parquet: ${reason}`, 'name JSONL files .jsonl and text files .txt, or set `format = …` in the data block');
  };
  if (bytes.length < 8 || !hasParquetMagic(bytes)) refuse('it does not start with PAR1');
  const rows = readParquetRows(bytes);
  if (!Array.isArray(rows)) return refuse(rows.error);
  return rows.map((row, i) => rowRecord(row, `${file}:row ${i + 1}`, options));
}

/**
 * A JSONL line's or a Parquet row's object → a record, by the Hugging Face conventions: `messages`
 * (chat, rendered with the template); else `prompt` / `completion` (the names the data block sets);
 * else `text`, a whole document.
 */
export function rowRecord(value: unknown, where: string, options: SourceOptions = {}): DataRecord {
  const fields = { ...DEFAULT_FIELDS, ...options.fields };
  const required = options.require ?? [];
  const refuse = (reason: string, help?: string): never => {
    throw dataError('MOE7102', `${where}: ${reason}`, help);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return refuse(`expected an object, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`);
  }
  const obj = value as Record<string, unknown>;
  const get = (key: 'prompt' | 'completion' | 'answer' | 'text'): string | undefined => {
    const name = fields[key];
    const v = obj[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return v;
    if (key === 'answer' && (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint')) return String(v);
    return refuse(`field "${name}" must be a string, got ${typeof v}`);
  };
  const answer = get('answer');
  const messages = obj[fields.messages];
  if (messages !== undefined && messages !== null) {
    const chat = asMessages(messages);
    if (typeof chat === 'string') return refuse(`field "${fields.messages}" ${chat}`);
    if (!options.chat) return refuse(`a chat row ("${fields.messages}") cannot be read here`, 'a prompt set for sampling or GRPO takes `prompt` rows');
    const parts = chatParts(options.chat, chat);
    const lastTarget = parts.map((p) => p.target).lastIndexOf(true);
    const cut = lastTarget < 0 ? parts.length : lastTarget;
    const join = (from: number, to: number): string => parts.slice(from, to).map((p) => p.text).join('');
    const record = { prompt: join(0, cut), completion: join(cut, parts.length), parts, ...(answer !== undefined && { answer }), where };
    if (required.includes('completion') && lastTarget < 0) refuse(`the conversation in "${fields.messages}" has no assistant turn to learn`);
    if (required.includes('answer') && answer === undefined) refuse(`missing field "${fields.answer}" (the answer)`, 'set `answer = "…"` in the data block to name another field');
    return record;
  }
  for (const key of required) {
    if (get(key) === undefined) refuse(`missing field "${fields[key]}" (the ${key})`, `set \`${key} = "…"\` in the data block to name another field`);
  }
  const prompt = get('prompt');
  const completion = get('completion');
  if (prompt === undefined && completion === undefined) {
    const text = get('text');
    if (text !== undefined) return { prompt: '', completion: text, ...(answer !== undefined && { answer }), where };
    return refuse(
      `the row has none of "${fields.messages}", "${fields.prompt}", "${fields.completion}", "${fields.text}"`,
      'name the fields with `prompt = …`, `completion = …`, `text = …` or `messages = …` in the data block',
    );
  }
  return { prompt: prompt ?? '', completion: completion ?? '', ...(answer !== undefined && { answer }), where };
}
