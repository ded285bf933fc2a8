/**
 * The one entry point the trainer calls: a plan data block (specs/ir.md §1.10) → its records →
 * the train/valid split → tokenized, packed batch iterators whose position can be saved and restored.
 */
import type { AttrValue } from '../../ir/types.js';
import { RuntimeError } from '../errors.js';
import { SampleOrder } from './order.js';
import { defaultChatTemplate, type ChatTemplate } from './chat.js';
import { dataError, dataWarning, stderrWarn, type Warn } from './data-error.js';
import { PackedStream, SftStream, sftTargets, type Batch, type PackState, type TokenPart } from './pack.js';
import { documentText, recordParts, type DataRecord } from './record.js';
import { readSource, type FieldNames, type SourceFormat, type SourceOptions } from './sources.js';
import { splitIndices } from './split.js';
import { arithmetic } from './synthetic.js';
import type { Tokenizer } from './tokenizer.js';

export type DataBlock = { readonly [k: string]: AttrValue };

/** The schema's default share when a data block has no `split` (the examples evaluate without one). */
export const DEFAULT_VALID_SHARE = 0.01;

export interface LoadOptions {
  /** renders `messages` rows; without one they are refused (prompt sets) */
  readonly chat?: ChatTemplate;
  readonly warn?: Warn;
}

/** Every record of a data block: generated, or read from its source relative to `baseDir`. */
export function loadRecords(data: DataBlock, baseDir: string, require: SourceOptions['require'] = [], options: LoadOptions = {}): DataRecord[] {
  const synthetic = data['synthetic'] as { readonly [k: string]: AttrValue } | undefined;
  if (synthetic && synthetic['kind'] === 'arithmetic') {
    return arithmetic({
      samples: Number(synthetic['samples'] ?? 10000),
      max_operand: Number(synthetic['max_operand'] ?? 100),
      style: synthetic['style'] === 'plain' ? 'plain' : 'r1',
      seed: Number(synthetic['seed'] ?? 0),
    });
  }
  if (synthetic && synthetic['kind'] !== 'none') throw new RuntimeError(`unknown synthetic generator ${String(synthetic['kind'])}`);
  const source = data['source'];
  if (typeof source !== 'string') throw new RuntimeError('the data block has neither `source` nor `synthetic`', 'set `source = "file.jsonl"` or a `synthetic` generator');
  const field = (k: keyof FieldNames): string => (typeof data[k] === 'string' ? (data[k] as string) : k);
  const format = data['format'];
  return readSource(source, baseDir, {
    format: format === 'text' || format === 'jsonl' || format === 'parquet' ? (format as SourceFormat) : undefined,
    fields: { prompt: field('prompt'), completion: field('completion'), answer: field('answer'), text: field('text'), messages: field('messages') },
    require,
    ...options,
  });
}

export function validShareOf(data: DataBlock): number {
  const split = data['split'] as { readonly [k: string]: AttrValue } | undefined;
  return typeof split?.['valid'] === 'number' ? split['valid'] : DEFAULT_VALID_SHARE;
}

export interface BatchIterator {
  /** records on this side of the split */
  readonly records: number;
  next(): Batch;
  state(): PackState;
  restore(state: PackState): void;
  /** back to the start (evaluation reads the same valid batches every time) */
  reset(): void;
}

export interface DatasetOptions {
  readonly seqLen: number;
  readonly batch: number;
  /** the stage seed: shuffles the train order */
  readonly seed: number;
  /** `pretrain` packs documents into windows; `sft` makes one masked row per record */
  readonly mode: 'pretrain' | 'sft';
  /** overrides the block's `split.valid` */
  readonly validShare?: number;
  /** seeds the split hash; fixed by default so every stage on a data block holds out the same records */
  readonly splitSeed?: number;
  /** the data block's name, for warnings */
  readonly name?: string;
  /** where warnings go (replaced bytes, rows with nothing to learn, an empty validation split); stderr by default */
  readonly warn?: Warn;
}

export interface Dataset {
  readonly train: BatchIterator;
  readonly valid: BatchIterator | undefined;
}

export function openDataset(data: DataBlock, baseDir: string, tokenizer: Tokenizer, options: DatasetOptions): Dataset {
  const warn = options.warn ?? stderrWarn;
  const name = options.name ?? 'the data block';
  const chat = tokenizer.chatTemplate ?? defaultChatTemplate();
  const records = loadRecords(data, baseDir, options.mode === 'sft' ? ['completion'] : [], { chat, warn });
  const share = options.validShare ?? validShareOf(data);
  const { train, valid } = splitIndices(records.length, share, options.splitSeed ?? 0);
  if (share > 0 && valid.length === 0) warn(dataWarning('MOE7106', `the validation split of \`${name}\` is empty (${records.length} record(s)): evaluation never runs`));
  const parts = memo((i: number): readonly TokenPart[] => recordParts(records[i]!).map((p) => ({ ids: tokenizer.encode(p.text), target: p.target })));
  if (options.mode === 'sft') checkSftTargets(records.length, parts, options.seqLen, name, warn);
  return {
    train: iterator(records, train, tokenizer, options, true, parts),
    valid: valid.length > 0 ? iterator(records, valid, tokenizer, options, false, parts) : undefined,
  };
}

/** SFT rows whose prompt fills `seqLen` learn nothing: a warning with their count, refused when every row is one. */
function checkSftTargets(n: number, parts: (i: number) => readonly TokenPart[], seqLen: number, data: string, warn: Warn): void {
  let empty = 0;
  for (let i = 0; i < n; i++) if (sftTargets(parts(i), seqLen) === 0) empty++;
  if (empty === 0) return;
  if (empty === n) throw dataError('MOE7105', `every one of the ${n} SFT rows of \`${data}\` trains on nothing: the prompts fill seq_len ${seqLen}`, 'raise `seq_len` or shorten the prompts');
  warn(dataWarning('MOE7104', `${empty} of ${n} SFT rows of \`${data}\` train on nothing: the prompt fills seq_len ${seqLen}`));
}

function iterator(
  records: readonly DataRecord[],
  indices: readonly number[],
  tokenizer: Tokenizer,
  options: DatasetOptions,
  shuffle: boolean,
  parts: (i: number) => readonly TokenPart[],
): BatchIterator {
  const order = new SampleOrder(indices.length, options.seed, shuffle);
  const record = (i: number): DataRecord => records[indices[i]!]!;
  const stream =
    options.mode === 'sft'
      ? new SftStream(order, (i) => parts(indices[i]!), tokenizer)
      : new PackedStream(order, memo((i) => tokenizer.encode(documentText(record(i)))), tokenizer.eos);
  const start = stream.state();
  return {
    records: indices.length,
    next: () => stream.nextBatch(options.batch, options.seqLen),
    state: () => stream.state(),
    restore: (s) => stream.restore(s),
    reset: () => stream.restore(start),
  };
}

/** Tokenizes each record once: epochs after the first reuse the ids. */
function memo<T>(f: (i: number) => T): (i: number) => T {
  const cache = new Map<number, T>();
  return (i) => {
    let v = cache.get(i);
    if (v === undefined) cache.set(i, (v = f(i)));
    return v;
  };
}
