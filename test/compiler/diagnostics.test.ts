import { describe, expect, it } from 'vitest';
import { catalog } from '../../compiler/diagnostics/catalog.js';
import { DiagnosticBag } from '../../compiler/diagnostics/diagnostic.js';
import { closestNames, didYouMean } from '../../util/did-you-mean.js';

describe('the diagnostic catalog', () => {
  it('has well-formed codes, lowercase one-line messages and an explanation for each', () => {
    for (const [code, entry] of Object.entries(catalog)) {
      expect(code).toMatch(/^MOE[1-7]\d{3}$/);
      expect(entry.message).not.toMatch(/\.$/);
      expect(entry.message).not.toContain('\n');
      expect(entry.message[0]).toBe(entry.message[0]!.toLowerCase());
      expect(entry.explain.length).toBeGreaterThan(20);
    }
  });
});

describe('DiagnosticBag', () => {
  it('caps the report and says so with MOE7001', () => {
    const bag = new DiagnosticBag(5);
    for (let i = 0; i < 12; i++) bag.report('MOE2002', { file: '/a', start: i, end: i + 1 }, { name: `x${i}` });
    const sorted = bag.sorted();
    expect(sorted).toHaveLength(6);
    expect(sorted[5]!.code).toBe('MOE7001');
    expect(sorted[5]!.message).toBe('too many diagnostics; showing 5, errors first');
    expect(bag.errorCount).toBe(12);
  });

  it('keeps every error when hundreds of warnings come first, and counts what it left out', () => {
    const bag = new DiagnosticBag(5);
    for (let i = 0; i < 10; i++) bag.report('MOE7001', { file: '/a', start: i, end: i + 1 }, { count: i });
    bag.report('MOE2002', { file: '/a', start: 50, end: 51 }, { name: 'late' });
    const sorted = bag.sorted();
    expect(sorted.filter((d) => d.code === 'MOE2002').map((d) => d.message)).toEqual([catalog.MOE2002.message.replace('{name}', 'late')]);
    expect(sorted).toHaveLength(6);
    expect(sorted[5]!.notes).toEqual(['6 more not shown (0 errors, 6 warnings); errors are shown before warnings']);
  });

  it('drops exact duplicates', () => {
    const bag = new DiagnosticBag();
    bag.report('MOE3005', { file: '/a', start: 1, end: 2 }, {});
    bag.report('MOE3005', { file: '/a', start: 1, end: 2 }, {});
    expect(bag.all).toHaveLength(1);
  });
});

describe('did you mean', () => {
  it('suggests the closest names', () => {
    expect(didYouMean('topk', ['top_k', 'experts', 'hidden'])).toBe('did you mean `top_k`?');
    expect(closestNames('kv_head', ['kv_heads', 'heads', 'kv_rank'])[0]).toBe('kv_heads');
  });

  it('stays quiet when nothing is close', () => {
    expect(didYouMean('zzzzzz', ['top_k', 'experts'])).toBeUndefined();
  });
});
