/**
 * What generation takes from a tokenizer: prompts as ids, and the options that tie the ids to text
 * (end-of-sequence, the padding id, stop strings, and the vocabulary the tokenizer can decode).
 */
import type { Tokenizer } from '../data/tokenizer.js';
import type { GenerateOptions } from './generate.js';

/** A prompt's ids; an empty prompt starts after an end-of-sequence id, where a document would. */
export function promptIds(text: string, tokenizer: Tokenizer): number[] {
  const ids = tokenizer.encode(text);
  return ids.length > 0 ? ids : [tokenizer.eos];
}

export type TextOptions = Pick<GenerateOptions, 'eos' | 'pad' | 'vocabLimit' | 'stop'>;

/** Stop at the tokenizer's end-of-sequence id or a stop string; never sample ids it cannot decode. */
export function textOptions(tokenizer: Tokenizer, stop: readonly string[] = []): TextOptions {
  return {
    eos: [tokenizer.eos],
    pad: tokenizer.pad,
    vocabLimit: tokenizer.size,
    ...(stop.length > 0 ? { stop: { strings: stop, decode: (ids: readonly number[]) => tokenizer.decode(ids) } } : {}),
  };
}
