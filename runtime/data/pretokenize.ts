/**
 * Pre-tokenization: text → pieces that BPE merges never cross (GPT-2's rule: contractions, an
 * optional space + letters, an optional space + digits, an optional space + other symbols, runs of
 * whitespace). Keeping merges inside pieces is what makes training fast (each distinct piece is
 * counted once, with its frequency) and keeps tokens from spanning word boundaries.
 */

// Every character is whitespace, a letter, a digit or "other", so the pieces cover the whole text.
const GPT2_PATTERN = /'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

export function pretokenize(text: string): string[] {
  return text.match(GPT2_PATTERN) ?? [];
}

/** The source of GPT-2's pattern, for HF files whose ByteLevel pre-tokenizer says `use_regex`. */
export const GPT2_PATTERN_SOURCE = GPT2_PATTERN.source;
