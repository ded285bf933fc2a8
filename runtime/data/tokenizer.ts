/**
 * The one shape every tokenizer has, so packing, training and generation never care which kind
 * (byte, trained BPE, HF tokenizer.json) turned text into ids.
 */
import { RuntimeError } from '../errors.js';
import type { ChatTemplate } from './chat.js';

export interface Tokenizer {
  /** ids are 0 … size − 1; the model's vocabulary must be at least this large */
  readonly size: number;
  readonly bos: number;
  readonly eos: number;
  readonly pad: number;
  /** text → ids; special-token names in the text are NOT turned into special ids (byte and BPE) */
  encode(text: string): number[];
  /** ids → text; special ids are left out (like HF `skip_special_tokens`), broken UTF-8 gives U+FFFD */
  decode(ids: readonly number[]): string;
  /** renders `messages` rows: an hf tokenizer's tokenizer_config.json template; unset means the default (ChatML) */
  readonly chatTemplate?: ChatTemplate;
  /** the HF files that reproduce this tokenizer, written into every checkpoint (tokenizer-files.ts) */
  hfFiles(): TokenizerFiles;
}

export type JsonObject = { readonly [key: string]: unknown };

/** A tokenizer's two HF files, parsed: what a checkpoint folder and an exported HF folder hold. */
export interface TokenizerFiles {
  readonly tokenizer: JsonObject;
  /** `chat_template` inside when there is one (never a separate chat_template.jinja) */
  readonly config: JsonObject;
}

/** Byte ids 0 … 255, then the three specials: the layout of the byte and the trained BPE tokenizers. */
export const BYTE_SPECIALS = { bos: 256, eos: 257, pad: 258 } as const;
export const FIRST_MERGE_ID = 259;

const utf8 = new TextEncoder();
// Not `fatal`: a model can emit any byte sequence, and decoding it must not throw.
const lenientUtf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

export function textBytes(text: string): Uint8Array {
  return utf8.encode(text);
}

export function bytesText(bytes: Uint8Array): string {
  return lenientUtf8.decode(bytes);
}

export function checkId(id: number, size: number, what: string): void {
  if (!Number.isInteger(id) || id < 0 || id >= size) {
    throw new RuntimeError(`token id ${id} is outside the ${what} tokenizer's vocabulary (0 … ${size - 1})`);
  }
}
