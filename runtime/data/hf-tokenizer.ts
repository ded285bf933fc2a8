/**
 * An HF `tokenizer.json` of the byte-level BPE family (GPT-2, Llama-3, DeepSeek-V3/R1, Qwen):
 * model type BPE over GPT-2's byte → printable-character alphabet, pre-tokenized by ByteLevel
 * (optionally after regex Splits). Other kinds (WordPiece, Unigram, SentencePiece-style BPE with
 * byte fallback) are refused: encoding them half-right would silently train on wrong ids.
 */
import { RuntimeError } from '../errors.js';
import { GPT2_PATTERN_SOURCE } from './pretokenize.js';
import { bytesText, checkId, textBytes, type JsonObject, type Tokenizer } from './tokenizer.js';

interface HfAddedToken {
  id: number;
  content: string;
  special?: boolean;
}
interface HfPreTokenizer {
  type: string;
  pretokenizers?: HfPreTokenizer[];
  pattern?: { Regex?: string; String?: string };
  behavior?: string;
  invert?: boolean;
  add_prefix_space?: boolean;
  use_regex?: boolean;
  individual_digits?: boolean;
}
interface HfTokenizerJson {
  model?: { type?: string; vocab?: Record<string, number>; merges?: (string | [string, string])[]; ignore_merges?: boolean; byte_fallback?: boolean };
  pre_tokenizer?: HfPreTokenizer | null;
  normalizer?: { type: string } | null;
  added_tokens?: HfAddedToken[];
}

export interface HfSpecialNames {
  bos?: string;
  eos?: string;
  pad?: string;
}

// The usual names, tried in order when the caller does not name the specials.
const BOS_NAMES = ['<｜begin▁of▁sentence｜>', '<|begin_of_text|>', '<s>', '<|endoftext|>', '<|im_start|>'];
const EOS_NAMES = ['<｜end▁of▁sentence｜>', '<|end_of_text|>', '</s>', '<|endoftext|>', '<|im_end|>'];
const PAD_NAMES = ['<｜▁pad▁｜>', '<|finetune_right_pad_id|>', '<pad>', '<|pad|>'];

/** GPT-2's `bytes_to_unicode`: printable bytes map to themselves, the rest to U+0100 onwards. */
export function byteAlphabet(): string[] {
  const chars: string[] = new Array<string>(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    chars[b] = String.fromCodePoint(printable ? b : next++);
  }
  return chars;
}

export function hfTokenizer(json: unknown, names: HfSpecialNames = {}, file = 'tokenizer.json'): Tokenizer {
  const doc = json as HfTokenizerJson;
  const model = doc?.model;
  const refuse = (why: string): never => {
    throw new RuntimeError(`${file}: ${why}`, 'use a byte-level BPE tokenizer.json (GPT-2, Llama-3, DeepSeek style), or `kind = byte` / `kind = bpe`');
  };
  if (!model || model.type !== 'BPE') refuse(`the model type is ${JSON.stringify(model?.type)}, only byte-level BPE is supported`);
  if (!model!.vocab || !model!.merges) refuse('the BPE model has no vocab or merges');
  if (model!.byte_fallback) refuse('byte_fallback BPE (SentencePiece style) is not byte-level BPE');
  const normalize = normalizerOf(doc.normalizer, refuse);
  const { splits, byteLevel } = preTokenizersOf(doc.pre_tokenizer, refuse);

  const vocab = new Map(Object.entries(model!.vocab!));
  const rank = new Map<string, number>();
  model!.merges!.forEach((m, r) => {
    const [a, b] = typeof m === 'string' ? splitMerge(m) : m;
    rank.set(`${a} ${b}`, r);
  });
  const added = (doc.added_tokens ?? []).slice().sort((x, y) => y.content.length - x.content.length);
  const addedIds = new Map(added.map((t) => [t.content, t.id]));
  const addedFirst = new Set(added.map((t) => t.content[0]));
  const specialIds = new Set(added.filter((t) => t.special).map((t) => t.id));
  const idToken: string[] = [];
  for (const [tok, id] of vocab) idToken[id] = tok;
  for (const t of added) idToken[t.id] = t.content;
  const size = idToken.length;

  const alphabet = byteAlphabet();
  const fromChar = new Map(alphabet.map((c, b) => [c, b]));
  // A vocabulary may lack some byte symbols (a small BPE trained on a partial alphabet, as the
  // issue-20 reference tokenizer is): HF tokenizers then drops those bytes without a word; here a
  // text holding one is refused when it is encoded, never silently shortened.

  const cache = new Map<string, number[]>();
  const encodePiece = (piece: string): number[] => {
    const hit = cache.get(piece);
    if (hit) return hit;
    let symbols = Array.from(textBytes(piece), (b) => alphabet[b]!);
    const whole = symbols.join('');
    if (model!.ignore_merges && vocab.has(whole)) symbols = [whole];
    while (symbols.length > 1) {
      let best = Infinity;
      let at = -1;
      for (let i = 0; i + 1 < symbols.length; i++) {
        const r = rank.get(`${symbols[i]} ${symbols[i + 1]}`);
        if (r !== undefined && r < best) [best, at] = [r, i];
      }
      if (at < 0) break;
      const [a, b] = [symbols[at]!, symbols[at + 1]!];
      const merged: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (symbols[i] === a && symbols[i + 1] === b) {
          merged.push(a + b);
          i++;
        } else merged.push(symbols[i]!);
      }
      symbols = merged;
    }
    const ids = symbols.map((s) => vocab.get(s) ?? refuse(`the text holds ${JSON.stringify(s)} (bytes ${bytesOf(s)}), which the vocabulary has no token for`));
    if (cache.size < 100_000) cache.set(piece, ids);
    return ids;
  };
  const encodeText = (text: string): number[] => {
    let pieces = [normalize(text)];
    for (const re of splits) pieces = pieces.flatMap((p) => splitIsolated(p, re));
    if (byteLevel.addPrefixSpace && pieces[0] !== undefined && !pieces[0].startsWith(' ')) pieces[0] = ` ${pieces[0]}`;
    if (byteLevel.useRegex) pieces = pieces.flatMap((p) => splitIsolated(p, new RegExp(GPT2_PATTERN_SOURCE, 'gu')));
    return pieces.flatMap(encodePiece);
  };

  const special = (kind: keyof HfSpecialNames, candidates: readonly string[], fallback?: number): number => {
    const wanted = names[kind];
    const name = wanted ?? candidates.find((c) => addedIds.has(c) || vocab.has(c));
    const id = name === undefined ? undefined : (addedIds.get(name) ?? vocab.get(name));
    if (id !== undefined) return id;
    if (fallback !== undefined) return fallback;
    throw new RuntimeError(
      `${file}: ${wanted ? `no token ${JSON.stringify(wanted)}` : `no usual ${kind} token (${candidates.join(', ')})`}`,
      `name the ${kind} token explicitly`,
    );
  };
  const bos = special('bos', BOS_NAMES);
  const eos = special('eos', EOS_NAMES);
  const pad = special('pad', PAD_NAMES, eos); // many files have no pad: reuse eos, masked out anyway

  return {
    size,
    bos,
    eos,
    pad,
    // the specials as chosen here, so HF picks the same ones from the files
    hfFiles: () => ({ tokenizer: doc as JsonObject, config: { bos_token: idToken[bos] ?? null, eos_token: idToken[eos] ?? null, pad_token: idToken[pad] ?? null } }),
    encode(text) {
      // added tokens (e.g. chat markers) are matched in the raw text first, as HF does
      if (added.length === 0) return encodeText(text);
      const out: number[] = [];
      let start = 0;
      for (let i = 0; i < text.length; ) {
        const hit = addedFirst.has(text[i]) ? added.find((t) => text.startsWith(t.content, i)) : undefined;
        if (!hit) {
          i++;
          continue;
        }
        if (i > start) out.push(...encodeText(text.slice(start, i)));
        out.push(hit.id);
        i += hit.content.length;
        start = i;
      }
      if (start < text.length) out.push(...encodeText(text.slice(start)));
      return out;
    },
    decode(ids) {
      const bytes: number[] = [];
      for (const id of ids) {
        checkId(id, size, 'HF');
        if (specialIds.has(id)) continue;
        const tok = idToken[id];
        if (tok === undefined) continue;
        if (!vocab.has(tok)) bytes.push(...textBytes(tok)); // a non-special added token is plain text
        else for (const c of tok) bytes.push(fromChar.get(c) ?? 0x3f);
      }
      return bytesText(Uint8Array.from(bytes));
    },
  };
}

/** The bytes a byte-level symbol stands for, in hex: `20 e4` (for messages). */
function bytesOf(symbol: string): string {
  const alphabet = byteAlphabet();
  return Array.from(symbol, (c) => alphabet.indexOf(c).toString(16).padStart(2, '0')).join(' ');
}

function splitMerge(m: string): [string, string] {
  const at = m.indexOf(' '); // the byte alphabet has no literal space, so the first one separates
  return [m.slice(0, at), m.slice(at + 1)];
}

function normalizerOf(n: HfTokenizerJson['normalizer'], refuse: (why: string) => never): (s: string) => string {
  if (!n) return (s) => s;
  if (n.type === 'NFC' || n.type === 'NFKC') return (s) => s.normalize(n.type as 'NFC' | 'NFKC');
  return refuse(`normalizer ${n.type} is not supported (none, NFC or NFKC)`);
}

function preTokenizersOf(
  p: HfPreTokenizer | null | undefined,
  refuse: (why: string) => never,
): { splits: RegExp[]; byteLevel: { addPrefixSpace: boolean; useRegex: boolean } } {
  const list = !p ? [] : p.type === 'Sequence' ? (p.pretokenizers ?? []) : [p];
  const splits: RegExp[] = [];
  let byteLevel: { addPrefixSpace: boolean; useRegex: boolean } | undefined;
  for (const q of list) {
    if (q.type === 'ByteLevel') byteLevel = { addPrefixSpace: q.add_prefix_space ?? false, useRegex: q.use_regex ?? true };
    else if (q.type === 'Split') {
      if ((q.behavior ?? 'Isolated') !== 'Isolated' || q.invert) refuse(`Split behavior ${q.behavior} (invert ${q.invert}) is not supported`);
      const src = q.pattern?.Regex ?? escapeRegex(q.pattern?.String ?? refuse('a Split without a pattern'));
      splits.push(jsRegex(src, refuse));
    } else if (q.type === 'Digits') splits.push(q.individual_digits ? /\p{N}/gu : /\p{N}+/gu);
    else refuse(`pre-tokenizer ${q.type} is not supported`);
  }
  if (!byteLevel) refuse('the pre-tokenizer is not ByteLevel: not a byte-level BPE');
  return { splits, byteLevel: byteLevel! };
}

/** Oniguruma → JS: `(?i:…)` (Llama-3's contractions) has no JS form here, so spell each letter both ways. */
export function jsRegex(source: string, refuse: (why: string) => never): RegExp {
  const js = source.replace(/\(\?i:([^()]*)\)/g, (_, body: string) => `(?:${body.replace(/\p{L}/gu, (c) => `[${c.toLowerCase()}${c.toUpperCase()}]`)})`);
  try {
    return new RegExp(js, 'gu');
  } catch (error) {
    return refuse(`the Split regex ${JSON.stringify(source)} does not compile in JavaScript: ${(error as Error).message}`);
  }
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** HF's `Isolated` split: every match is a piece, and so is the text between matches. */
export function splitIsolated(text: string, re: RegExp): string[] {
  const out: string[] = [];
  let last = 0;
  for (const m of text.matchAll(re)) {
    if (m[0].length === 0) continue;
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push(m[0]);
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}
