import { describe, expect, it } from 'vitest';
import { documentSymbols, foldingRanges, type DocumentSymbol } from '../../compiler/service/index.js';
import { analyzeExample, analyzeText } from './helpers.js';

function tree(symbols: readonly DocumentSymbol[], depth = 1): unknown[] {
  return symbols.map((s) => (depth > 0 && s.children.length ? [s.name, s.kind, tree(s.children, depth - 1)] : [s.name, s.kind]));
}

describe('document symbols', () => {
  it('top-level declarations with their members', () => {
    const symbols = documentSymbols(analyzeExample('r1-tiny.moe'));
    expect(symbols.map((s) => [s.name, s.kind, s.detail])).toEqual([
      ['D', 'const', '32'],
      ['R1Tiny', 'model', 'model'],
      ['problems', 'resource', 'data'],
      ['cold_cot', 'resource', 'data'],
      ['questions', 'resource', 'data'],
      ['rs_prompts', 'resource', 'data'],
      ['held_out', 'resource', 'data'],
      ['bpe', 'resource', 'tokenizer'],
      ['r1', 'reward', 'reward'],
      ['base', 'stage', 'pretrain'],
      ['cold', 'stage', 'sft'],
      ['after_cold', 'stage', 'eval'],
      ['reason', 'stage', 'grpo'],
      ['after_reason', 'stage', 'eval'],
      ['rs', 'stage', 'sample'],
      ['final', 'stage', 'sft'],
      ['after_final', 'stage', 'eval'],
      ['demo', 'stage', 'generate'],
      ['recipe', 'pipeline', 'base → cold → after_cold → reason → after_reason → rs → final → after_final → demo'],
    ]);
    const model = symbols[1]!;
    expect(tree(model.children, 0)).toEqual([
      ['vocab', 'field'],
      ['dim', 'field'],
      ['layers', 'field'],
      ['context', 'field'],
      ['init', 'block'],
      ['rope', 'block'],
      ['attention', 'block'],
      ['layers 0..0', 'layers'],
      ['layers 1..1', 'layers'],
    ]);
    expect(model.children[6]!.detail).toBe('gqa');
    expect(symbols.find((s) => s.name === 'r1')!.children.map((c) => [c.name, c.detail])).toEqual([
      ['accuracy', '0.7 = answer { compare = exact }'],
      ['format', '0.3 = regex { pattern = r"^<think>most [abc]</think><answer>[abc]…'],
    ]);
  });

  it('every name range lies inside its symbol\'s range', () => {
    const check = (symbols: readonly DocumentSymbol[]): void => {
      for (const s of symbols) {
        expect(s.selection.start).toBeGreaterThanOrEqual(s.range.start);
        expect(s.selection.end).toBeLessThanOrEqual(s.range.end);
        check(s.children);
      }
    };
    check(documentSymbols(analyzeExample('deepseek-v3.moe')));
    check(documentSymbols(analyzeText('model A { dim = \n pretrain')));
  });
});

describe('folding ranges', () => {
  it('blocks, lists and comments spanning lines', () => {
    const ranges = foldingRanges(analyzeText('/* one\n two */\nmodel A {\n  init {\n    std = 0.1\n  }\n  x = [\n 1 ]\n}\n'));
    expect(ranges).toEqual([
      { startLine: 2, endLine: 8, comment: false },
      { startLine: 3, endLine: 5, comment: false },
      { startLine: 6, endLine: 7, comment: false },
      { startLine: 0, endLine: 1, comment: true },
    ]);
  });
});
