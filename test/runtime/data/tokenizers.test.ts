/** Byte, trained-BPE and HF tokenizers: round trips, hand-checked merges, JSON, refusals. */
import { describe, expect, it } from 'vitest';
import { RuntimeError } from '../../../runtime/errors.js';
import { bpeFromJSON, mergeWord, trainBpe } from '../../../runtime/data/bpe.js';
import { BYTE_TOKENIZER_SIZE, byteTokenizer } from '../../../runtime/data/byte.js';
import { byteAlphabet, hfTokenizer } from '../../../runtime/data/hf-tokenizer.js';
import { pretokenize } from '../../../runtime/data/pretokenize.js';

const SAMPLES = ['', 'hello world', 'emoji 🙂👍🏽 and 🇫🇷', '中文 汉字 日本語', 'tabs\tand\nnewlines\r\n', "it's   spaced  ", 'What is 12+30?<think>12+30 = 42</think><answer>42</answer>'];

describe('byte tokenizer', () => {
  const tok = byteTokenizer();
  it('has 256 bytes + <bos> <eos> <pad>, as the checker counts', () => {
    expect([tok.size, tok.bos, tok.eos, tok.pad]).toEqual([BYTE_TOKENIZER_SIZE, 256, 257, 258]);
    expect(tok.size).toBe(259);
  });
  it('round-trips any text, multi-byte UTF-8 included', () => {
    for (const s of SAMPLES) expect(tok.decode(tok.encode(s))).toBe(s);
    expect(tok.encode('é🙂')).toEqual([0xc3, 0xa9, 0xf0, 0x9f, 0x99, 0x82]);
  });
  it('decodes invalid byte sequences with U+FFFD and leaves specials out', () => {
    expect(tok.decode([0x68, 0xff, 0x69])).toBe('h\uFFFDi');
    expect(tok.decode([0xf0, 0x9f])).toBe('\uFFFD'); // a truncated emoji
    expect(tok.decode([256, 0x61, 257, 258])).toBe('a');
    expect(() => tok.decode([259])).toThrow(RuntimeError);
  });
});

/** The textbook algorithm, rescanning every pair each merge: the reference for the fast trainer. */
function naiveMerges(texts: string[], vocab: number): [number, number][] {
  let words = texts.flatMap(pretokenize).map((p) => Array.from(new TextEncoder().encode(p)));
  const merges: [number, number][] = [];
  while (259 + merges.length < vocab) {
    const counts = new Map<string, number>();
    for (const w of words) for (let i = 0; i + 1 < w.length; i++) counts.set(`${w[i]},${w[i + 1]}`, (counts.get(`${w[i]},${w[i + 1]}`) ?? 0) + 1);
    let best: [number, number] | undefined;
    let bestN = 0;
    for (const [k, n] of counts) {
      const [a, b] = k.split(',').map(Number) as [number, number];
      if (n > bestN || (n === bestN && best && (a < best[0] || (a === best[0] && b < best[1])))) [best, bestN] = [[a, b], n];
    }
    if (!best) break;
    const id = 259 + merges.length;
    merges.push(best);
    words = words.map((w) => mergeWord(w, best[0], best[1], id));
  }
  return merges;
}

describe('trained BPE', () => {
  it('learns the hand-checked first merges, ties going to the smaller pair', () => {
    // pieces "aaab" " aab" " ab": (a,a) 3 and (a,b) 3 tie → (a,a); then (a,b) 2; then all 1 → (" ", aa)
    const bpe = trainBpe(['aaab aab ab'], 262);
    expect(bpe.merges).toEqual([[97, 97], [97, 98], [32, 259]]);
    expect(bpe.size).toBe(262);
    expect(bpe.encode('aaab')).toEqual([259, 260]);
    expect(bpe.encode(' aab')).toEqual([261, 98]);
  });
  it('agrees with the naive trainer on a larger corpus', () => {
    const texts = Array.from({ length: 200 }, (_, i) => `What is ${i}+${(i * 7) % 50}? The answer is ${i + ((i * 7) % 50)}. ${SAMPLES[i % SAMPLES.length]}`);
    expect(trainBpe(texts, 400).merges).toEqual(naiveMerges(texts, 400));
  });
  it('round-trips text seen and unseen, and through JSON', () => {
    const bpe = trainBpe(SAMPLES.concat(SAMPLES), 300);
    const again = bpeFromJSON(JSON.parse(JSON.stringify(bpe.toJSON())));
    for (const s of [...SAMPLES, 'never seen: Ωmega ☃ 🙂🙂']) {
      const ids = bpe.encode(s);
      expect(bpe.decode(ids)).toBe(s);
      expect(again.encode(s)).toEqual(ids);
    }
    expect(again.size).toBe(bpe.size);
    expect(bpe.encode('hello world').length).toBeLessThan('hello world'.length);
  });
  it('stops early when the corpus runs out of pairs, and refuses bad input', () => {
    expect(trainBpe(['ab'], 1000).size).toBe(260);
    expect(() => trainBpe(['ab'], 100)).toThrow(RuntimeError);
    expect(() => bpeFromJSON({ kind: 'bpe', version: 1, merges: [[259, 97]] })).toThrow(/merge 0/);
    expect(() => bpeFromJSON({ kind: 'wordpiece' })).toThrow(RuntimeError);
  });
});

/** A GPT-2-style tokenizer.json: the byte alphabet, three merges building "Ġthe", one special. */
function handWritten(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  byteAlphabet().forEach((c, b) => (vocab[c] = b));
  Object.assign(vocab, { 'Ġt': 256, he: 257, 'Ġthe': 258 });
  return {
    version: '1.0',
    added_tokens: [{ id: 259, content: '<|endoftext|>', special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    decoder: { type: 'ByteLevel' },
    model: { type: 'BPE', vocab, merges: ['Ġ t', 'h e', 'Ġt he'] },
    ...extra,
  };
}

describe('HF tokenizer.json', () => {
  it('uses GPT-2 byte alphabet', () => {
    const a = byteAlphabet();
    expect([a[32], a[10], a[97], a[0], a[255]]).toEqual(['Ġ', 'Ċ', 'a', 'Ā', 'ÿ']);
  });
  it('encodes by merge rank, splits out added tokens and decodes back', () => {
    const tok = hfTokenizer(handWritten());
    expect(tok.size).toBe(260);
    expect([tok.bos, tok.eos, tok.pad]).toEqual([259, 259, 259]);
    expect(tok.encode(' the')).toEqual([258]);
    expect(tok.encode('he the')).toEqual([257, 258]);
    expect(tok.encode('the<|endoftext|>x')).toEqual([116, 257, 259, 120]);
    for (const s of SAMPLES) expect(tok.decode(tok.encode(s))).toBe(s);
    expect(tok.decode([258, 259])).toBe(' the');
  });
  it('reads array merges and a Llama-3 style Split with (?i:…)', () => {
    const json = handWritten({
      pre_tokenizer: {
        type: 'Sequence',
        pretokenizers: [
          { type: 'Split', pattern: { Regex: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+" }, behavior: 'Isolated', invert: false },
          { type: 'ByteLevel', add_prefix_space: false, use_regex: false },
        ],
      },
    });
    const model = json['model'] as { merges: unknown; vocab: Record<string, number> };
    model.merges = [['Ġ', 't'], ['h', 'e'], ['Ġt', 'he'], ['3', '4']];
    model.vocab['34'] = 260;
    const tok = hfTokenizer(json, { eos: '<|endoftext|>' });
    // digits go in groups of at most three, so "34" merges in "345" but not across "123|45"
    expect(tok.encode(" the IT'S 12345 345")).toEqual([258, 32, 73, 84, 39, 83, 32, 49, 50, 51, 52, 53, 32, 260, 53]);
    for (const s of SAMPLES) expect(tok.decode(tok.encode(s))).toBe(s);
  });
  it('refuses other kinds with a RuntimeError', () => {
    expect(() => hfTokenizer({ model: { type: 'WordPiece', vocab: {} } })).toThrow(/only byte-level BPE/);
    expect(() => hfTokenizer(handWritten({ pre_tokenizer: { type: 'Metaspace' } }))).toThrow(RuntimeError);
    const fallback = handWritten();
    (fallback['model'] as { byte_fallback: boolean }).byte_fallback = true;
    expect(() => hfTokenizer(fallback)).toThrow(/byte_fallback/);
    expect(() => hfTokenizer(handWritten({ added_tokens: [] }))).toThrow(/bos/);
  });
});
