/**
 * Byte-level BPE trained from a corpus. Ids 0 … 255 are bytes, 256 … 258 the specials (as in the
 * byte tokenizer, so a byte-tokenized model and a BPE one agree on them), and merge r creates id
 * 259 + r. Training counts each distinct pre-token once (weighted by its frequency) and keeps the
 * pair counts up to date incrementally: a merge only touches the words that contain its pair, and
 * a lazy max-heap finds the next most frequent pair without rescanning.
 */
import { RuntimeError } from '../errors.js';
import { byteLevelFiles } from './hf-tokenizer-json.js';
import { pretokenize } from './pretokenize.js';
import { BYTE_SPECIALS, FIRST_MERGE_ID, bytesText, checkId, textBytes, type Tokenizer } from './tokenizer.js';

export interface BpeJSON {
  readonly kind: 'bpe';
  readonly version: 1;
  /** merge r joins the pair `merges[r]` into id 259 + r */
  readonly merges: readonly (readonly [number, number])[];
}

export interface BpeTokenizer extends Tokenizer {
  readonly merges: readonly (readonly [number, number])[];
  toJSON(): BpeJSON;
}

// A pair of ids as one number (ids stay far below 2^21, so the key is an exact integer).
const SHIFT = 2 ** 21;
const pairKey = (a: number, b: number): number => a * SHIFT + b;
const pairOf = (key: number): [number, number] => [Math.floor(key / SHIFT), key % SHIFT];

/**
 * Learns `vocabSize − 259` merges (fewer when the corpus runs out of pairs). The most frequent
 * adjacent pair wins; ties go to the smaller pair (first id, then second id) so training is
 * deterministic whatever the order of the map iteration.
 */
export function trainBpe(texts: Iterable<string>, vocabSize: number): BpeTokenizer {
  if (!Number.isInteger(vocabSize) || vocabSize < FIRST_MERGE_ID) {
    throw new RuntimeError(`a BPE vocabulary needs at least ${FIRST_MERGE_ID} ids (256 bytes + 3 specials), got ${vocabSize}`);
  }
  const freq = new Map<string, number>();
  for (const text of texts) for (const piece of pretokenize(text)) freq.set(piece, (freq.get(piece) ?? 0) + 1);
  const words: number[][] = [];
  const counts: number[] = [];
  for (const [piece, n] of freq) {
    words.push(Array.from(textBytes(piece)));
    counts.push(n);
  }

  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>(); // may hold stale word indices; merging those is a no-op
  const addPairs = (w: number, sign: 1 | -1, touched: Set<number>): void => {
    const word = words[w]!;
    for (let i = 0; i + 1 < word.length; i++) {
      const key = pairKey(word[i]!, word[i + 1]!);
      pairCount.set(key, (pairCount.get(key) ?? 0) + sign * counts[w]!);
      touched.add(key);
      if (sign > 0) {
        let set = pairWords.get(key);
        if (!set) pairWords.set(key, (set = new Set()));
        set.add(w);
      }
    }
  };
  const heap = new PairHeap();
  const initial = new Set<number>();
  for (let w = 0; w < words.length; w++) addPairs(w, 1, initial);
  for (const key of initial) heap.push(pairCount.get(key)!, key);

  const merges: [number, number][] = [];
  while (FIRST_MERGE_ID + merges.length < vocabSize) {
    const best = popCurrent(heap, pairCount);
    if (best === undefined) break;
    const [a, b] = pairOf(best);
    const id = FIRST_MERGE_ID + merges.length;
    merges.push([a, b]);
    const touched = new Set<number>();
    for (const w of pairWords.get(best) ?? []) {
      addPairs(w, -1, touched);
      words[w] = mergeWord(words[w]!, a, b, id);
      addPairs(w, 1, touched);
    }
    pairWords.delete(best);
    for (const key of touched) {
      const n = pairCount.get(key)!;
      if (n > 0) heap.push(n, key);
      else pairCount.delete(key);
    }
  }
  return bpeFromMerges(merges);
}

/** Pops heap entries until one still matches its pair's current count (older entries are stale). */
function popCurrent(heap: PairHeap, pairCount: Map<number, number>): number | undefined {
  while (heap.size > 0) {
    const [count, key] = heap.pop();
    if (pairCount.get(key) === count && count > 0) return key;
  }
  return undefined;
}

/** Replaces every non-overlapping occurrence of (a, b), left to right, by `id`. */
export function mergeWord(word: readonly number[], a: number, b: number, id: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < word.length; i++) {
    if (word[i] === a && word[i + 1] === b) {
      out.push(id);
      i++;
    } else out.push(word[i]!);
  }
  return out;
}

export function bpeFromJSON(json: unknown): BpeTokenizer {
  const j = json as Partial<BpeJSON> | null;
  if (!j || j.kind !== 'bpe' || j.version !== 1 || !Array.isArray(j.merges)) {
    throw new RuntimeError('not a BPE tokenizer JSON (expected {kind: "bpe", version: 1, merges: [[a, b], …]})');
  }
  j.merges.forEach((m, r) => {
    const ok = Array.isArray(m) && m.length === 2 && m.every((id) => Number.isInteger(id) && id >= 0 && id < FIRST_MERGE_ID + r && (id < 256 || id >= FIRST_MERGE_ID));
    if (!ok) throw new RuntimeError(`BPE merge ${r} (${JSON.stringify(m)}) must join two earlier, non-special ids`);
  });
  return bpeFromMerges(j.merges);
}

export function bpeFromMerges(merges: readonly (readonly [number, number])[]): BpeTokenizer {
  const size = FIRST_MERGE_ID + merges.length;
  const rank = new Map<number, number>();
  merges.forEach(([a, b], r) => rank.set(pairKey(a, b), r));
  // the bytes each id stands for, built in merge order (a merge only joins earlier ids)
  const tokenBytes: Uint8Array[] = [];
  for (let i = 0; i < 256; i++) tokenBytes.push(Uint8Array.of(i));
  for (let i = 0; i < 3; i++) tokenBytes.push(new Uint8Array(0));
  for (const [a, b] of merges) {
    const x = tokenBytes[a]!;
    const y = tokenBytes[b]!;
    const joined = new Uint8Array(x.length + y.length);
    joined.set(x);
    joined.set(y, x.length);
    tokenBytes.push(joined);
  }
  const cache = new Map<string, number[]>();
  const encodePiece = (piece: string): number[] => {
    const hit = cache.get(piece);
    if (hit) return hit;
    let word = Array.from(textBytes(piece));
    // apply the lowest-ranked merge present, as training did, until none applies
    while (word.length > 1) {
      let best = Infinity;
      for (let i = 0; i + 1 < word.length; i++) best = Math.min(best, rank.get(pairKey(word[i]!, word[i + 1]!)) ?? Infinity);
      if (best === Infinity) break;
      const [a, b] = merges[best]!;
      word = mergeWord(word, a, b, FIRST_MERGE_ID + best);
    }
    if (cache.size < 100_000) cache.set(piece, word);
    return word;
  };
  return {
    size,
    ...BYTE_SPECIALS,
    merges,
    hfFiles: () => byteLevelFiles(merges),
    encode: (text) => pretokenize(text).flatMap(encodePiece),
    decode(ids) {
      const parts = ids.map((id) => {
        checkId(id, size, 'BPE');
        return tokenBytes[id]!;
      });
      const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        all.set(p, at);
        at += p.length;
      }
      return bytesText(all);
    },
    toJSON: () => ({ kind: 'bpe', version: 1, merges: merges.map(([a, b]) => [a, b] as const) }),
  };
}

/** Max-heap of (count, pair key): higher count first, then the smaller key (= smaller pair). */
class PairHeap {
  private readonly counts: number[] = [];
  private readonly keys: number[] = [];
  get size(): number {
    return this.counts.length;
  }
  private before(i: number, j: number): boolean {
    const ci = this.counts[i]!;
    const cj = this.counts[j]!;
    return ci !== cj ? ci > cj : this.keys[i]! < this.keys[j]!;
  }
  private swap(i: number, j: number): void {
    [this.counts[i], this.counts[j]] = [this.counts[j]!, this.counts[i]!];
    [this.keys[i], this.keys[j]] = [this.keys[j]!, this.keys[i]!];
  }
  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    for (let i = this.counts.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }
  pop(): [number, number] {
    const top: [number, number] = [this.counts[0]!, this.keys[0]!];
    const last = this.counts.length - 1;
    this.swap(0, last);
    this.counts.pop();
    this.keys.pop();
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < last && this.before(l, m)) m = l;
      if (r < last && this.before(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return top;
  }
}
