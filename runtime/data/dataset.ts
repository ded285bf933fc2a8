/**
 * The one entry point the trainer calls: a plan data block (specs/ir.md §1.10) → its records →
 * the train/valid split → tokenized, packed batch iterators whose position can be saved and restored.
 */
import type { AttrValue } from '../../ir/types.js';
import { RuntimeError } from '../errors.js';
import { SampleOrder } from './order.js';
import { PackedStream, SftStream, type Batch, type PackState } from './pack.js';
import { documentText, type DataRecord } from './record.js';
import { readSource, type FieldNames, type SourceFormat } from './sources.js';
import { splitIndices } from './split.js';
import { arithmetic } from './synthetic.js';
import type { Tokenizer } from './tokenizer.js';

export type DataBlock = { readonly [k: string]: AttrValue };

/** The schema's default share when a data block has no `split` (the examples evaluate without one). */
export const DEFAULT_VALID_SHARE = 0.01;

/** Every record of a data block: generated, or read from its source relative to `baseDir`. */
export function loadRecords(data: DataBlock, baseDir: string, require: readonly (keyof FieldNames)[] = []): DataRecord[] {
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
  return readSource(source, baseDir, {
    format: data['format'] === 'text' || data['format'] === 'jsonl' ? (data['format'] as SourceFormat) : undefined,
    fields: { prompt: field('prompt'), completion: field('completion'), answer: field('answer') },
    require,
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
}

export interface Dataset {
  readonly train: BatchIterator;
  readonly valid: BatchIterator | undefined;
}

export function openDataset(data: DataBlock, baseDir: string, tokenizer: Tokenizer, options: DatasetOptions): Dataset {
  const records = loadRecords(data, baseDir, options.mode === 'sft' ? ['completion'] : []);
  const { train, valid } = splitIndices(records.length, options.validShare ?? validShareOf(data), options.splitSeed ?? 0);
  return {
    train: iterator(records, train, tokenizer, options, true),
    valid: valid.length > 0 ? iterator(records, valid, tokenizer, options, false) : undefined,
  };
}

function iterator(records: readonly DataRecord[], indices: readonly number[], tokenizer: Tokenizer, options: DatasetOptions, shuffle: boolean): BatchIterator {
  const order = new SampleOrder(indices.length, options.seed, shuffle);
  const record = (i: number): DataRecord => records[indices[i]!]!;
  const stream =
    options.mode === 'sft'
      ? new SftStream(order, memo((i) => ({ prompt: tokenizer.encode(record(i).prompt), completion: tokenizer.encode(record(i).completion) })), tokenizer)
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
