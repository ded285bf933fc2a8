import { describe, expect, it } from 'vitest';
import { formatText } from '../../compiler/syntax/format.js';
import { documentDiagnostics, formatDocument, quickFixes, suggestions, type TextEdit } from '../../compiler/service/index.js';
import { analyzeText, exampleText } from './helpers.js';

function apply(text: string, edit: TextEdit): string {
  return text.slice(0, edit.start) + edit.newText + text.slice(edit.end);
}

describe('formatting', () => {
  it('one edit to the `moe fmt` layout', () => {
    const text = 'cluster c {devices=8,memory=80GiB}';
    const edits = formatDocument('/mem/spec.moe', text);
    expect(edits).toHaveLength(1);
    const expected = formatText('/mem/spec.moe', text);
    expect(apply(text, edits[0]!)).toBe('text' in expected ? expected.text : '');
  });

  it('no edit when the file is already formatted, or broken', () => {
    const once = formatDocument('/mem/a.moe', exampleText('r1-tiny.moe'))[0]!.newText;
    expect(formatDocument('/mem/a.moe', once)).toEqual([]);
    expect(formatDocument('/mem/a.moe', 'model A {')).toEqual([]);
  });
});

describe('quick fixes for did-you-mean diagnostics', () => {
  const cases: [string, string, string][] = [
    ['modle M { dim = 4 }', 'modle', 'model'],
    ['cluster c { devices = 8, memroy = 80GiB }', 'memroy', 'memory'],
    ['model M { layers 0..1 { moe { router { score = sigmoidd } } } }', 'sigmoidd', 'sigmoid'],
    ['model M { attention mlaa { heads = 4 } }', 'mlaa', 'mla'],
    ['pretrain p { precission = bf16 }', 'precission', 'precision'],
  ];
  for (const [text, wrong, right] of cases) {
    it(`\`${wrong}\` → \`${right}\``, () => {
      const analysis = analyzeText(text);
      const at = text.indexOf(wrong);
      const fixes = quickFixes(analysis, { start: at, end: at });
      const fix = fixes.find((f) => f.edit.newText === right)!;
      expect(fix).toMatchObject({ title: `Replace with \`${right}\``, preferred: true, edit: { start: at, end: at + wrong.length } });
      const fixed = apply(text, fix.edit);
      const codes = (t: string): string[] => documentDiagnostics(analyzeText(t)).filter((d) => d.help?.includes(right)).map((d) => d.code);
      expect(codes(text).length).toBeGreaterThan(0);
      expect(codes(fixed)).toEqual([]);
    });
  }

  it('one fix per suggestion, the closest preferred', () => {
    const d = { help: 'did you mean `a`, `b` or `c`?' } as Parameters<typeof suggestions>[0];
    expect(suggestions(d)).toEqual(['a', 'b', 'c']);
    expect(suggestions({ help: 'known fields: a, b' } as Parameters<typeof suggestions>[0])).toEqual([]);
  });

  it('none outside the requested range, and none for a diagnostic shown on an import', () => {
    const text = 'cluster c { devices = 8, memroy = 80GiB }';
    expect(quickFixes(analyzeText(text), { start: 0, end: 5 })).toEqual([]);
    const importing = 'import "lib.moe"\ncluster c { devices = 8, memory = 80GiB }';
    const analysis = analyzeText(importing, { 'lib.moe': 'cluster d { devices = 8, memroy = 80GiB }' });
    expect(documentDiagnostics(analysis).some((d) => d.origin)).toBe(true);
    expect(quickFixes(analysis, { start: 0, end: importing.length })).toEqual([]);
  });
});
