/** Packing: pretraining windows, SFT masks on completion targets, resumable batch iterators. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { byteTokenizer } from '../../../runtime/data/byte.js';
import { openDataset, type DataBlock } from '../../../runtime/data/dataset.js';
import { openTokenizer } from '../../../runtime/data/open-tokenizer.js';
import { SampleOrder } from '../../../runtime/data/order.js';
import { PackedStream, sftRow } from '../../../runtime/data/pack.js';

const EOS = 99;
const DOCS = [[1, 2, 3], [4, 5], [6, 7, 8, 9, 10], [11]];

describe('pretraining packing', () => {
  it('joins documents with <eos> and cuts back-to-back windows, every token a target', () => {
    const order = new SampleOrder(DOCS.length, 0, false);
    const stream = new PackedStream(order, (i) => DOCS[i]!, EOS);
    const b = stream.nextBatch(2, 4);
    expect(Array.from(b.inputIds)).toEqual([1, 2, 3, EOS, 4, 5, EOS, 6]);
    expect(Array.from(b.lossMask)).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    expect(Array.from(stream.nextBatch(1, 6).inputIds)).toEqual([7, 8, 9, 10, EOS, 11]);
    expect(Array.from(stream.nextBatch(1, 3).inputIds)).toEqual([EOS, 1, 2]); // the next epoch
  });
  it('resumes mid-document from a JSON state exactly', () => {
    const make = (): PackedStream => new PackedStream(new SampleOrder(DOCS.length, 5), (i) => DOCS[i]!, EOS);
    const straight = make();
    const all = Array.from({ length: 8 }, () => Array.from(straight.nextBatch(1, 3).inputIds));
    for (const stop of [0, 1, 2, 5]) {
      const first = make();
      for (let i = 0; i < stop; i++) first.nextBatch(1, 3);
      const resumed = make();
      resumed.restore(JSON.parse(JSON.stringify(first.state())));
      const rest = Array.from({ length: 8 - stop }, () => Array.from(resumed.nextBatch(1, 3).inputIds));
      expect(rest).toEqual(all.slice(stop));
    }
  });
});

describe('SFT rows', () => {
  const specials = { eos: EOS, pad: 0 };
  it('marks the completion tokens and the <eos> after them: the TARGETS of the shifted loss', () => {
    const { ids, mask } = sftRow([10, 11, 12], [20, 21], 8, specials);
    expect(Array.from(ids)).toEqual([10, 11, 12, 20, 21, EOS, 0, 0]);
    expect(Array.from(mask)).toEqual([0, 0, 0, 1, 1, 1, 0, 0]);
    // loss.cross_entropy (shift 1) counts position t with weight mask[t + 1]: the predictions made
    // from the last prompt token and from each completion token, i.e. of 20, 21 and <eos>
    const predicted = [...Array(7).keys()].filter((t) => mask[t + 1] === 1).map((t) => ids[t + 1]);
    expect(predicted).toEqual([20, 21, EOS]);
  });
  it('truncates the tail to seq_len', () => {
    const { ids, mask } = sftRow([10, 11], [20, 21, 22, 23], 4, specials);
    expect(Array.from(ids)).toEqual([10, 11, 20, 21]);
    expect(Array.from(mask)).toEqual([0, 0, 1, 1]);
    expect(Array.from(sftRow([1, 2, 3, 4, 5], [6], 3, specials).mask)).toEqual([0, 0, 0]);
  });
});

describe('openDataset', () => {
  const arith: DataBlock = { synthetic: { kind: 'arithmetic', samples: 400, max_operand: 50, style: 'r1', seed: 0 }, prompt: 'prompt', completion: 'completion', answer: 'answer', split: { kind: 'split', valid: 0.05 } };
  const tok = byteTokenizer();
  it('gives packed train batches of [B*T], resumable, and a valid side that resets', () => {
    const ds = openDataset(arith, '.', tok, { seqLen: 32, batch: 4, seed: 42, mode: 'pretrain' });
    expect(ds.train.records + ds.valid!.records).toBe(400);
    expect(ds.valid!.records).toBeGreaterThan(5);
    const b = ds.train.next();
    expect([b.inputIds.length, b.lossMask.length, b.batch, b.seqLen]).toEqual([128, 128, 4, 32]);
    expect(tok.decode(Array.from(b.inputIds))).toMatch(/What is \d+[+\-*]\d+\?<think>/);
    expect(Array.from(b.inputIds)).toContain(tok.eos);
    const saved = JSON.parse(JSON.stringify(ds.train.state()));
    const next = [ds.train.next(), ds.train.next()];
    const again = openDataset(arith, '.', tok, { seqLen: 32, batch: 4, seed: 42, mode: 'pretrain' });
    again.train.restore(saved);
    expect([again.train.next(), again.train.next()]).toEqual(next);
    const v = ds.valid!.next();
    ds.valid!.next();
    ds.valid!.reset();
    expect(ds.valid!.next()).toEqual(v);
  });
  it('sft mode masks all but the completion, and the held-out records never reach training', () => {
    const ds = openDataset(arith, '.', tok, { seqLen: 64, batch: 8, seed: 1, mode: 'sft' });
    const b = ds.train.next();
    for (let r = 0; r < 8; r++) {
      const ids = Array.from(b.inputIds.subarray(r * 64, (r + 1) * 64));
      const mask = Array.from(b.lossMask.subarray(r * 64, (r + 1) * 64));
      const text = tok.decode(ids.filter((_, t) => mask[t] === 1));
      expect(text).toMatch(/^<think>[\s\S]*<\/think><answer>\d+<\/answer>$/);
      expect(ids[mask.lastIndexOf(1)]).toBe(tok.eos);
      expect(tok.decode(ids.filter((_, t) => mask[t] === 0))).toMatch(/^What is \d+[+\-*]\d+\?$/);
    }
    const valid = new Set<string>();
    for (let i = 0; i < ds.valid!.records; i++) valid.add(Array.from(ds.valid!.next().inputIds.subarray(0, 64)).join());
    const seen = Array.from({ length: 100 }, () => ds.train.next()).flatMap((x) => Array.from({ length: 8 }, (_, r) => Array.from(x.inputIds.subarray(r * 64, (r + 1) * 64)).join()));
    expect(seen.filter((row) => valid.has(row)).length).toBeLessThanOrEqual(seen.length * 0.05); // only duplicate problems collide
  });
  it('reads a JSONL source and trains a BPE tokenizer on a data block', () => {
    const base = mkdtempSync(join(tmpdir(), 'moe-ds-'));
    writeFileSync(join(base, 'sft.jsonl'), Array.from({ length: 50 }, (_, i) => JSON.stringify({ q: `Say ${i}.`, a: `The number ${i}.` })).join('\n'));
    const block: DataBlock = { source: 'sft.jsonl', prompt: 'q', completion: 'a', answer: 'answer' };
    const bpe = openTokenizer({ kind: 'bpe', vocab: 300, train_on: 'corpus' }, { corpus: block }, base);
    expect(bpe.size).toBe(300);
    const ds = openDataset(block, base, bpe, { seqLen: 16, batch: 2, seed: 0, mode: 'sft' });
    const b = ds.train.next();
    expect(bpe.decode(Array.from(b.inputIds.subarray(0, 16)).filter((_, t) => b.lossMask[t] === 1))).toMatch(/^The number \d+\.$/);
    expect(openTokenizer({ kind: 'byte' }, {}, base).size).toBe(259);
  });
});
