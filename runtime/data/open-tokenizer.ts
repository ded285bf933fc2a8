/**
 * A plan tokenizer block → a Tokenizer: `byte` needs nothing, `bpe` is trained on its `train_on`
 * data block (train side of the split only, so validation text never shapes the vocabulary), `hf`
 * loads its `file` relative to the entry spec's folder. A trained BPE should be saved with the
 * checkpoint (`toJSON`) and reloaded with `bpeFromJSON` rather than retrained on resume.
 */
import { resolve } from 'node:path';
import { RuntimeError } from '../errors.js';
import { trainBpe } from './bpe.js';
import { byteTokenizer } from './byte.js';
import { loadRecords, validShareOf, type DataBlock } from './dataset.js';
import { hfTokenizer } from './hf-tokenizer.js';
import { readJsonFile } from './json-file.js';
import { documentText } from './record.js';
import { splitIndices } from './split.js';
import type { Tokenizer } from './tokenizer.js';

export function openTokenizer(block: DataBlock, data: { readonly [name: string]: DataBlock }, baseDir: string): Tokenizer {
  const kind = block['kind'];
  if (kind === 'byte') return byteTokenizer();
  if (kind === 'bpe') {
    const name = block['train_on'];
    const corpus = typeof name === 'string' ? data[name] : undefined;
    if (!corpus || typeof block['vocab'] !== 'number') throw new RuntimeError('a `bpe` tokenizer needs `vocab` and `train_on` naming a data block');
    const records = loadRecords(corpus, baseDir);
    const { train } = splitIndices(records.length, validShareOf(corpus));
    return trainBpe(train.map((i) => documentText(records[i]!)), block['vocab']);
  }
  if (kind === 'hf') {
    const file = block['file'];
    if (typeof file !== 'string') throw new RuntimeError('an `hf` tokenizer needs `file`');
    return hfTokenizer(readJsonFile(resolve(baseDir, file), 'the tokenizer'), {}, file);
  }
  throw new RuntimeError(`unknown tokenizer kind ${String(kind)}`);
}
