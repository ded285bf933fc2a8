/**
 * The byte tokenizer: ids 0 … 255 are the UTF-8 bytes, then <bos> 256, <eos> 257, <pad> 258
 * (size 259, `BYTE_TOKENIZER_SIZE` of the checker). Needs no file and round-trips any text.
 */
import { byteLevelFiles } from './hf-tokenizer-json.js';
import { BYTE_SPECIALS, bytesText, checkId, textBytes, type Tokenizer } from './tokenizer.js';

export const BYTE_TOKENIZER_SIZE = 259;

export function byteTokenizer(): Tokenizer {
  return {
    size: BYTE_TOKENIZER_SIZE,
    ...BYTE_SPECIALS,
    hfFiles: () => byteLevelFiles([]),
    encode: (text) => Array.from(textBytes(text)),
    decode(ids) {
      const bytes: number[] = [];
      for (const id of ids) {
        checkId(id, BYTE_TOKENIZER_SIZE, 'byte');
        if (id < 256) bytes.push(id);
      }
      return bytesText(Uint8Array.from(bytes));
    },
  };
}
