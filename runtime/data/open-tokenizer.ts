/**
 * A plan tokenizer block → a Tokenizer: `byte` needs nothing, `bpe` is trained on its `train_on`
 * data block (train side of the split only, so validation text never shapes the vocabulary), `hf`
 * loads its `file` relative to the entry spec's folder, with the chat template of the
 * `tokenizer_config.json` beside it when there is one. A trained BPE should be saved with the
 * checkpoint (`toJSON`) and reloaded with `bpeFromJSON` rather than retrained on resume.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { RuntimeError } from '../errors.js';
import { trainBpe } from './bpe.js';
import { chatTemplate, defaultChatTemplate, type ChatTemplate } from './chat.js';
import { dataError } from './data-error.js';
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
    const records = loadRecords(corpus, baseDir, [], { chat: defaultChatTemplate() });
    const { train } = splitIndices(records.length, validShareOf(corpus));
    return trainBpe(train.map((i) => documentText(records[i]!)), block['vocab']);
  }
  if (kind === 'hf') {
    const file = block['file'];
    if (typeof file !== 'string') throw new RuntimeError('an `hf` tokenizer needs `file`');
    const path = resolve(baseDir, file);
    const tokenizer = hfTokenizer(readJsonFile(path, 'the tokenizer'), {}, file);
    const template = hfChatTemplate(join(dirname(path), 'tokenizer_config.json'));
    return template ? { ...tokenizer, chatTemplate: template } : tokenizer;
  }
  throw new RuntimeError(`unknown tokenizer kind ${String(kind)}`);
}

/** The `chat_template` of an HF tokenizer_config.json, when the file exists and has one. */
export function hfChatTemplate(configFile: string): ChatTemplate | undefined {
  if (!existsSync(configFile)) return undefined;
  const config = readJsonFile(configFile, 'the tokenizer config') as { chat_template?: unknown; bos_token?: unknown; eos_token?: unknown } | null;
  const raw = config?.chat_template;
  if (raw === undefined || raw === null) return undefined;
  // a list of named templates (`[{name, template}]`) is the newer form; `default` is the chat one
  const text = Array.isArray(raw) ? (raw as { name?: unknown; template?: unknown }[]).find((t) => t?.name === 'default')?.template : raw;
  if (typeof text !== 'string') throw dataError('MOE7107', `chat template of ${configFile}: \`chat_template\` is neither a string nor a list with a \`default\` template`);
  const special = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof (v as { content?: unknown })?.content === 'string' ? (v as { content: string }).content : undefined);
  const bos = special(config?.bos_token);
  const eos = special(config?.eos_token);
  return chatTemplate(text, configFile, { ...(bos !== undefined && { bos_token: bos }), ...(eos !== undefined && { eos_token: eos }) });
}
