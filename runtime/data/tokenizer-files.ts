/**
 * The tokenizer as files that travel with the weights: HF's `tokenizer.json` and
 * `tokenizer_config.json` (special-token names, the chat template). A checkpoint folder holds them
 * (runtime/io/checkpoint.ts), `moe import hf` takes them from the HF folder and `moe export hf`
 * writes them, so a checkpoint folder copied anywhere still turns text into the ids it was trained on.
 *
 * Files are hostile input: read only as regular files under a size cap, and a folder's files only
 * where their real path (symlinks resolved) stays inside that folder.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { escapes, readRegularFile } from '../../util/files.js';
import { RuntimeError } from '../errors.js';
import { chatTemplate, type ChatTemplate } from './chat.js';
import { dataError } from './data-error.js';
import { hfTokenizer, type HfSpecialNames } from './hf-tokenizer.js';
import { MAX_JSON_BYTES } from './json-file.js';
import type { JsonObject, Tokenizer, TokenizerFiles } from './tokenizer.js';

export const TOKENIZER_FILE = 'tokenizer.json';
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';
/** transformers 5 saves the chat template beside tokenizer_config.json rather than inside it */
export const CHAT_TEMPLATE_FILE = 'chat_template.jinja';

/** DeepSeek's tokenizer_config.json lists every added token: ~0.5 MB; 16 MiB is far beyond any real one. */
const MAX_CONFIG_BYTES = 16 * 2 ** 20;
const MAX_TEMPLATE_BYTES = 2 ** 20;

const utf8 = new TextDecoder('utf-8');

function readText(path: string, what: string, maxBytes: number): string {
  const bytes = readRegularFile(path, maxBytes);
  if (typeof bytes === 'string') throw new RuntimeError(`cannot read ${what} ${path}: ${bytes}`);
  return utf8.decode(bytes);
}

function readObject(path: string, what: string, maxBytes: number): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(readText(path, what, maxBytes));
  } catch (error) {
    if (error instanceof RuntimeError) throw error;
    // V8's message quotes the text around the error: never print what a hostile file holds
    throw new RuntimeError(`${what} ${path} is not valid JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RuntimeError(`${what} ${path} is not a JSON object`);
  return value as JsonObject;
}

/** A file of `dir` by name, refused when it resolves (symlinks included) outside `dir`. */
function confined(dir: string, name: string): string {
  const path = join(dir, name);
  if (escapes(dir, path)) throw new RuntimeError(`${path} resolves outside ${dir}`, 'a tokenizer file must lie in the folder it belongs to (copy it in, not a symlink out)');
  return path;
}

/** Tokenizer files as read, with the file their chat template came from (for messages). */
export interface ReadTokenizerFiles {
  readonly files: TokenizerFiles;
  readonly templateSource: string;
}

/**
 * The tokenizer files of a folder (a checkpoint or an HF model folder), or undefined when it has no
 * tokenizer.json. `tokenizer_config.json` is optional; a `chat_template.jinja` beside it becomes its
 * `chat_template` when the config has none (what transformers 5 does when it loads the folder).
 */
export function readTokenizerFolder(dir: string): ReadTokenizerFiles | undefined {
  const tokenizerPath = confined(dir, TOKENIZER_FILE);
  if (!existsSync(tokenizerPath)) return undefined;
  return readTokenizerFiles(tokenizerPath, dir);
}

/** `tokenizerPath` and the config (and template) files in `dir`, each confined to `dir`. */
export function readTokenizerFiles(tokenizerPath: string, dir: string): ReadTokenizerFiles {
  const tokenizer = readObject(tokenizerPath, 'the tokenizer', MAX_JSON_BYTES);
  const configPath = confined(dir, TOKENIZER_CONFIG_FILE);
  const templatePath = confined(dir, CHAT_TEMPLATE_FILE);
  const config: Record<string, unknown> = existsSync(configPath) ? { ...readObject(configPath, 'the tokenizer config', MAX_CONFIG_BYTES) } : {};
  let templateSource = configPath;
  if ((config['chat_template'] === undefined || config['chat_template'] === null) && existsSync(templatePath)) {
    config['chat_template'] = readText(templatePath, 'the chat template', MAX_TEMPLATE_BYTES);
    templateSource = templatePath;
  }
  return { files: { tokenizer, config }, templateSource };
}

/** Writes `tokenizer.json` and `tokenizer_config.json` into `dir`. */
export function writeTokenizerFiles(dir: string, files: TokenizerFiles): void {
  writeFileSync(join(dir, TOKENIZER_FILE), `${JSON.stringify(files.tokenizer)}\n`);
  writeFileSync(join(dir, TOKENIZER_CONFIG_FILE), `${JSON.stringify(files.config, null, 2)}\n`);
}

/** A special token of tokenizer_config.json: a string or HF's `{"content": …}` form. */
function specialName(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  const content = (value as { content?: unknown } | null)?.content;
  return typeof content === 'string' ? content : undefined;
}

/** The special-token names tokenizer_config.json gives (those it leaves out are guessed by hfTokenizer). */
function specialNames(config: JsonObject): HfSpecialNames {
  const bos = specialName(config['bos_token']);
  const eos = specialName(config['eos_token']);
  const pad = specialName(config['pad_token']);
  return { ...(bos !== undefined && { bos }), ...(eos !== undefined && { eos }), ...(pad !== undefined && { pad }) };
}

/** The `chat_template` of a tokenizer config, when it has one. */
export function configChatTemplate(config: JsonObject, source: string): ChatTemplate | undefined {
  const raw = config['chat_template'];
  if (raw === undefined || raw === null) return undefined;
  // a list of named templates (`[{name, template}]`) is the newer form; `default` is the chat one
  const text = Array.isArray(raw) ? (raw as { name?: unknown; template?: unknown }[]).find((t) => t?.name === 'default')?.template : raw;
  if (typeof text !== 'string') throw dataError('MOE7107', `chat template of ${source}: \`chat_template\` is neither a string nor a list with a \`default\` template`);
  const { bos, eos } = specialNames(config);
  return chatTemplate(text, source, { ...(bos !== undefined && { bos_token: bos }), ...(eos !== undefined && { eos_token: eos }) });
}

/**
 * The tokenizer the files describe: the specials tokenizer_config.json names (HF's own choice,
 * e.g. Qwen's eos `<|im_end|>` rather than the `<|endoftext|>` a guess would take), its chat
 * template, and the files themselves to pass on.
 */
export function tokenizerFromFiles({ files, templateSource }: ReadTokenizerFiles, source: string): Tokenizer {
  const tokenizer = hfTokenizer(files.tokenizer, specialNames(files.config), source);
  const template = configChatTemplate(files.config, templateSource);
  // the config's own names win; where it names none, the ones hfTokenizer chose are written down
  const config = { ...tokenizer.hfFiles().config, ...files.config };
  return { ...tokenizer, ...(template && { chatTemplate: template }), hfFiles: () => ({ tokenizer: files.tokenizer, config }) };
}
