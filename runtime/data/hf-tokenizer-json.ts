/**
 * The byte tokenizer and a trained BPE written as HF files: a byte-level BPE `tokenizer.json` whose
 * ids are ours (byte b is GPT-2's printable character for b with id b; merge r is id 259 + r; the
 * three specials 256 … 258) and whose ByteLevel pre-tokenizer splits with GPT-2's pattern, the one
 * `pretokenize.ts` uses, so HF tokenizers and our hf reader encode every text to the same ids.
 * The one difference: HF matches the special tokens' names in raw text, the byte and BPE
 * tokenizers never do, so the names are ones no ordinary text contains.
 */
import { RuntimeError } from '../errors.js';
import { DEFAULT_CHAT_TEMPLATE } from './chat.js';
import { byteAlphabet } from './hf-tokenizer.js';
import { BYTE_SPECIALS, FIRST_MERGE_ID, type TokenizerFiles } from './tokenizer.js';

export const BYTE_SPECIAL_NAMES = { bos: '<|moe_bos|>', eos: '<|moe_eos|>', pad: '<|moe_pad|>' } as const;

function addedToken(id: number, content: string): Record<string, unknown> {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

const BYTE_LEVEL = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };

/**
 * HF files of a byte-level BPE with `merges` (none: the byte tokenizer). Refused when two ids
 * stand for the same bytes: HF keys its vocabulary by the token's text, so it cannot hold both.
 */
export function byteLevelFiles(merges: readonly (readonly [number, number])[]): TokenizerFiles {
  const alphabet = byteAlphabet();
  const text: string[] = [...alphabet];
  const vocab: Record<string, number> = {};
  alphabet.forEach((c, b) => (vocab[c] = b));
  const mergeLines: string[] = [];
  merges.forEach(([a, b], r) => {
    const id = FIRST_MERGE_ID + r;
    const left = text[a];
    const right = text[b];
    if (left === undefined || right === undefined) throw new RuntimeError(`BPE merge ${r} (${a}, ${b}) joins an id that is not a byte or an earlier merge`);
    const joined = left + right;
    if (Object.hasOwn(vocab, joined)) {
      throw new RuntimeError(
        `the trained BPE has two ids for the same bytes (${vocab[joined]} and ${id}), which HF's tokenizer.json cannot express`,
        'train the BPE with another vocab size, or use an hf tokenizer',
      );
    }
    text[id] = joined;
    vocab[joined] = id;
    // the byte alphabet has no space, so "left right" separates the pair unambiguously
    mergeLines.push(`${left} ${right}`);
  });
  return {
    tokenizer: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [addedToken(BYTE_SPECIALS.bos, BYTE_SPECIAL_NAMES.bos), addedToken(BYTE_SPECIALS.eos, BYTE_SPECIAL_NAMES.eos), addedToken(BYTE_SPECIALS.pad, BYTE_SPECIAL_NAMES.pad)],
      normalizer: null,
      pre_tokenizer: BYTE_LEVEL,
      post_processor: null,
      decoder: BYTE_LEVEL,
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: false,
        vocab,
        merges: mergeLines,
      },
    },
    config: {
      tokenizer_class: 'PreTrainedTokenizerFast',
      bos_token: BYTE_SPECIAL_NAMES.bos,
      eos_token: BYTE_SPECIAL_NAMES.eos,
      pad_token: BYTE_SPECIAL_NAMES.pad,
      // the template SFT rendered `messages` rows with (the byte and BPE tokenizers have no other)
      chat_template: DEFAULT_CHAT_TEMPLATE,
    },
  };
}
