/** Synthetic arithmetic, the split and the resumable order. */
import { describe, expect, it } from 'vitest';
import { SampleOrder, permutation } from '../../../runtime/data/order.js';
import { isValid, splitIndices } from '../../../runtime/data/split.js';
import { arithmetic } from '../../../runtime/data/synthetic.js';

const R1_FORMAT = /^<think>[\s\S]*<\/think>\s*<answer>[\s\S]*<\/answer>$/; // examples/r1-tiny.moe's reward

describe('arithmetic generator', () => {
  it('is deterministic per seed and right about every answer', () => {
    const a = arithmetic({ samples: 500, max_operand: 100, style: 'r1', seed: 3 });
    expect(arithmetic({ samples: 500, max_operand: 100, style: 'r1', seed: 3 })).toEqual(a);
    expect(arithmetic({ samples: 500, max_operand: 100, style: 'r1', seed: 4 })).not.toEqual(a);
    const ops = new Set<string>();
    for (const r of a) {
      const m = /^What is (\d+)([+\-*])(\d+)\?$/.exec(r.prompt)!;
      expect(m).not.toBeNull();
      const [x, op, y] = [Number(m[1]), m[2]!, Number(m[3])];
      ops.add(op);
      const value = op === '+' ? x + y : op === '-' ? x - y : x * y;
      expect(r.answer).toBe(String(value));
      expect(value).toBeGreaterThanOrEqual(0);
      expect(Math.max(x, y)).toBeLessThanOrEqual(op === '*' ? 12 : 100);
      expect(r.completion).toMatch(R1_FORMAT);
      expect(r.completion).toBe(`<think>${x}${op}${y} = ${value}</think><answer>${value}</answer>`);
    }
    expect([...ops].sort()).toEqual(['*', '+', '-']);
  });
  it('plain style answers only', () => {
    for (const r of arithmetic({ samples: 50, max_operand: 9, style: 'plain', seed: 0 })) expect(r.completion).toBe(r.answer);
  });
});

describe('split', () => {
  it('depends only on the index and seed, near the requested share', () => {
    const small = splitIndices(1000, 0.1, 7);
    const large = splitIndices(5000, 0.1, 7);
    expect(large.valid.filter((i) => i < 1000)).toEqual(small.valid);
    expect(large.valid.length / 5000).toBeGreaterThan(0.08);
    expect(large.valid.length / 5000).toBeLessThan(0.12);
    expect(splitIndices(1000, 0.1, 8).valid).not.toEqual(small.valid);
    expect(small.train.length + small.valid.length).toBe(1000);
    expect(small.valid.every((i) => isValid(i, 0.1, 7))).toBe(true);
  });
  it('holds out at least one record when asked to, none at share 0', () => {
    expect(splitIndices(3, 0.01).valid).toHaveLength(1);
    expect(splitIndices(3, 0.01).train).toHaveLength(2);
    expect(splitIndices(100, 0).valid).toEqual([]);
  });
});

describe('sample order', () => {
  it('visits every index once per epoch, a different permutation each epoch', () => {
    const o = new SampleOrder(10, 1);
    const e0 = Array.from({ length: 10 }, () => o.next());
    const e1 = Array.from({ length: 10 }, () => o.next());
    expect([...e0].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...e1].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(e1).not.toEqual(e0);
    expect(o.state()).toEqual({ seed: 1, epoch: 1, position: 10 });
    expect(Array.from(permutation(5, 1, 0, false))).toEqual([0, 1, 2, 3, 4]);
  });
  it('resumed from a JSON state equals the uninterrupted order, across epochs', () => {
    const straight = new SampleOrder(7, 42);
    const all = Array.from({ length: 30 }, () => straight.next());
    for (const stop of [0, 3, 7, 13, 29]) {
      const first = new SampleOrder(7, 42);
      const head = Array.from({ length: stop }, () => first.next());
      const saved = JSON.parse(JSON.stringify(first.state()));
      const resumed = new SampleOrder(7, 42);
      resumed.restore(saved);
      expect([...head, ...Array.from({ length: 30 - stop }, () => resumed.next())]).toEqual(all);
    }
    expect(() => new SampleOrder(7, 1).restore({ seed: 42, epoch: 0, position: 0 })).toThrow(/seed/);
  });
});
