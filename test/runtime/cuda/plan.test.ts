/** The cuda memory plan: buffers alive at the same step never overlap; dead ones share memory. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALIGN, planMemory, type BufferNeed } from '../../../runtime/cuda/plan.js';

describe('planMemory', () => {
  it('reuses the memory of a buffer whose last use is over', () => {
    const plan = planMemory([
      { name: 'a', bytes: 1000, first: 0, last: 1 },
      { name: 'b', bytes: 1000, first: 1, last: 2 },
      { name: 'c', bytes: 1000, first: 2, last: 3 },
    ]);
    // a and c never live together: two 1024-byte slots, not three
    expect(plan.peakBytes).toBe(2 * 1024);
    expect(plan.totalBytes).toBe(3 * 1024);
    expect(plan.buffers.get('a')!.offset).toBe(plan.buffers.get('c')!.offset);
  });

  it('never lets two live buffers overlap, and aligns every offset (random lifetimes)', () => {
    const need = fc.record({ bytes: fc.integer({ min: 0, max: 5000 }), first: fc.integer({ min: 0, max: 20 }), span: fc.integer({ min: 0, max: 8 }) });
    fc.assert(
      fc.property(fc.array(need, { minLength: 1, maxLength: 40 }), (raw) => {
        const needs: BufferNeed[] = raw.map((r, i) => ({ name: `v${i}`, bytes: r.bytes, first: r.first, last: r.first + r.span }));
        const plan = planMemory(needs);
        const placed = [...plan.buffers.values()];
        for (const p of placed) {
          expect(p.offset % ALIGN).toBe(0);
          expect(p.offset + p.bytes).toBeLessThanOrEqual(plan.peakBytes);
        }
        for (let i = 0; i < placed.length; i++) {
          for (let j = i + 1; j < placed.length; j++) {
            const a = placed[i]!;
            const b = placed[j]!;
            const live = a.first <= b.last && b.first <= a.last;
            const disjoint = a.offset + a.bytes <= b.offset || b.offset + b.bytes <= a.offset;
            if (live && a.bytes > 0 && b.bytes > 0) expect(disjoint).toBe(true);
          }
        }
        expect(plan.peakBytes).toBeLessThanOrEqual(plan.totalBytes);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses a buffer planned twice', () => {
    expect(() => planMemory([{ name: 'x', bytes: 1, first: 0, last: 0 }, { name: 'x', bytes: 1, first: 1, last: 1 }])).toThrow(/planned twice/);
  });
});
