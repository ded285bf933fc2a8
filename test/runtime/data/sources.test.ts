/** Reading data sources: globs, text paragraphs, JSONL fields and errors with file:line. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { expandGlob } from '../../../util/glob.js';
import { readSource } from '../../../runtime/data/sources.js';
import { RuntimeError } from '../../../runtime/errors.js';

let base = '';
beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'moe-data-'));
  mkdirSync(join(base, 'data', 'nested'), { recursive: true });
  writeFileSync(join(base, 'data', 'b.jsonl'), '{"q": "2+2?", "a": "4", "gold": 4}\n\n{"q": "3+3?", "a": "6", "gold": 6}\n');
  writeFileSync(join(base, 'data', 'a.jsonl'), '{"q": "1+1?", "a": "2", "gold": 2}\n');
  writeFileSync(join(base, 'data', 'bad.json'), '{"q": "ok", "a": "fine"}\n{"q": "broken", \n');
  writeFileSync(join(base, 'data', 'c1.txt'), 'first paragraph\nstill first\n\n\nsecond one\n');
  writeFileSync(join(base, 'data', 'c2.txt'), 'third\n');
  writeFileSync(join(base, 'data', '.hidden.jsonl'), 'not json\n');
  writeFileSync(join(base, 'data', 'nested', 'd.jsonl'), '{"q": "x", "a": "y"}\n');
});

describe('globs', () => {
  it('expands * and ? within a segment, sorted, skipping hidden files', () => {
    const names = (p: string): string[] => expandGlob(p, base).map((f) => f.slice(base.length + 1));
    expect(names('data/*.jsonl')).toEqual(['data/a.jsonl', 'data/b.jsonl']);
    expect(names('data/c?.txt')).toEqual(['data/c1.txt', 'data/c2.txt']);
    expect(names('data/*/d.jsonl')).toEqual(['data/nested/d.jsonl']);
    expect(names('data/a.jsonl')).toEqual(['data/a.jsonl']);
    expect(names('data/*.csv')).toEqual([]);
    expect(expandGlob(join(base, 'data', '?.jsonl'), '/elsewhere')).toHaveLength(2);
  });
});

describe('sources', () => {
  const fields = { prompt: 'q', completion: 'a', answer: 'gold' };
  it('reads JSONL records with the block field names, across a glob in order', () => {
    const records = readSource('data/*.jsonl', base, { fields });
    expect(records.map((r) => [r.prompt, r.completion, r.answer])).toEqual([
      ['1+1?', '2', '2'],
      ['2+2?', '4', '4'],
      ['3+3?', '6', '6'],
    ]);
    expect(records[2]!.where).toMatch(/b\.jsonl:3$/);
  });
  it('reports malformed lines and missing fields with file:line', () => {
    expect(() => readSource('data/bad.json', base, { fields })).toThrow(/bad\.json:2: not JSON/);
    expect(() => readSource('data/a.jsonl', base, { require: ['completion'] })).toThrow(/a\.jsonl:1: missing field "completion"/);
    expect(() => readSource('data/a.jsonl', base)).toThrow(/a\.jsonl:1: the row has none of "messages", "prompt", "completion", "text"/);
    writeFileSync(join(base, 'data', 'types.jsonl'), '{"prompt": "p", "completion": 3}\n[1]\n');
    expect(() => readSource('data/types.jsonl', base)).toThrow(/types\.jsonl:1: field "completion" must be a string/);
    expect(() => readSource('data/missing*.jsonl', base)).toThrow(RuntimeError);
  });
  it('reads text files as paragraphs, with their lines', () => {
    const records = readSource('data/c*.txt', base);
    expect(records.map((r) => r.completion)).toEqual(['first paragraph\nstill first', 'second one\n', 'third\n']);
    expect(records.map((r) => r.where!.replace(/^.*\//, ''))).toEqual(['c1.txt:1', 'c1.txt:5', 'c2.txt:1']);
    expect(readSource('data/a.jsonl', base, { format: 'text' })[0]!.completion).toContain('"q"');
  });
});
