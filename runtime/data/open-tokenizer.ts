/**
 * A plan tokenizer block → a Tokenizer: `byte` needs nothing, `bpe` is trained on its `train_on`
 * data block (train side of the split only, so validation text never shapes the vocabulary), `hf`
 * loads its `file` relative to the entry spec's folder, with the special-token names and the chat
 * template of the `tokenizer_config.json` (or `chat_template.jinja`) beside it when there is one.
 * Every tokenizer travels with the checkpoints as HF files (`hfFiles`, tokenizer-files.ts).
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { RuntimeError } from '../errors.js';
import { trainBpe } from './bpe.js';
import { defaultChatTemplate, type ChatTemplate } from './chat.js';
import { byteTokenizer } from './byte.js';
import { loadRecords, validShareOf, type DataBlock } from './dataset.js';
import { readJsonFile } from './json-file.js';
import { documentText } from './record.js';
import { splitIndices } from './split.js';
import type { JsonObject, Tokenizer } from './tokenizer.js';
import { configChatTemplate, readTokenizerFiles, tokenizerFromFiles } from './tokenizer-files.js';

export function openTokenizer(block: DataBlock, data: { readonly [name: string]: DataBlock }, baseDir: string): Tokenizer {
  const kind = block['kind'];
  if (kind === 'byte') return byteTokenizer();
  if (kind === 'bpe') {
    const name = block['train_on'];
    const corpus = typeof name === 'string' ? data[name] : undefined;
    if (!corpus || typeof block['vocab'] !== 'number') throw new RuntimeError('a `bpe` tokenizer needs `vocab` and `train_on` naming a data block');
    const records = loadRecords(corpus, baseDir, [], { chat: defaultChatTemplate() });
    const { train } = splitIndices(records.length, validShareOf(corpus));
    return trainBpe(train.map((i) => documentText(records[i]!)), block['vocab']);
  }
  if (kind === 'hf') {
    const file = block['file'];
    if (typeof file !== 'string') throw new RuntimeError('an `hf` tokenizer needs `file`');
    const path = resolve(baseDir, file);
    return tokenizerFromFiles(readTokenizerFiles(path, dirname(path)), file);
  }
  throw new RuntimeError(`unknown tokenizer kind ${String(kind)}`);
}

/** The `chat_template` of an HF tokenizer_config.json, when the file exists and has one. */
export function hfChatTemplate(configFile: string): ChatTemplate | undefined {
  if (!existsSync(configFile)) return undefined;
  return configChatTemplate(readJsonFile(configFile, 'the tokenizer config') as JsonObject, configFile);
}
