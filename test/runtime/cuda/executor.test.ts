/** The cuda executor's host side: buffer lifetimes, the memory plan and the parameter layout for real specs, without a GPU. */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeHost } from '../../../compiler/bind/node-host.js';
import { checkFile } from '../../../compiler/check/index.js';
import { lowerSpec } from '../../../compiler/lower/index.js';
import { gradName, lifetimes } from '../../../runtime/cuda/lifetimes.js';
import { cudaOp, expertCapacity, expertRows, EXPERT_TILE } from '../../../runtime/cuda/ops/index.js';
import { layoutParams } from '../../../runtime/cuda/params.js';
import { planMemory } from '../../../runtime/cuda/plan.js';
import { neededNodes } from '../../../runtime/model/forward.js';

const repo = resolve(import.meta.dirname, '..', '..', '..');
const model = lowerSpec(checkFile(resolve(repo, 'examples/r1-tiny.moe'), nodeHost), repo).models[0]!;

describe('cuda executor planning (r1-tiny)', () => {
  it('has a forward and a backward kernel for every op of the graph', () => {
    for (const node of model.nodes) {
      expect(cudaOp(node.op), node.op).toBeDefined();
      expect(cudaOp(node.op)!.backward, node.op).toBeDefined();
    }
    expect(cudaOp('toString')).toBeUndefined();
  });

  it('keeps every activation until its backward and every gradient from its last reader to its producer', () => {
    const nodes = neededNodes(model, ['loss']);
    const n = nodes.length;
    const needs = lifetimes(model, nodes, 2, 32, 'train', ['loss']);
    const byName = new Map(needs.map((b) => [b.name, b]));
    nodes.forEach((node, i) => {
      for (const out of node.outputs) {
        expect(byName.get(out)).toMatchObject({ first: i, last: out === 'loss' ? 2 * n - 1 : 2 * n - 1 - i });
      }
    });
    const h1 = nodes.findIndex((node) => node.outputs.includes('h.1'));
    const readers = nodes.flatMap((node, i) => (node.inputs.includes('h.1') ? [i] : []));
    expect(byName.get(gradName('h.1'))).toMatchObject({ first: 2 * n - 1 - Math.max(...readers), last: 2 * n - 1 - h1 });
    // integer values (token ids, expert indices) carry no gradient
    expect([...byName.keys()].some((k) => k.startsWith('∇') && k.endsWith('.indices'))).toBe(false);
    expect(byName.has(gradName('input_ids'))).toBe(false);
  });

  it('shares memory between dead buffers; a forward pass needs far less than training', () => {
    const logits = neededNodes(model, ['logits']);
    const forward = planMemory(lifetimes(model, logits, 4, 64, 'forward', ['logits']));
    expect(forward.peakBytes).toBeLessThan(forward.totalBytes / 2);
    const train = planMemory(lifetimes(model, neededNodes(model, ['loss']), 4, 64, 'train', ['loss']));
    expect(train.peakBytes).toBeGreaterThan(forward.peakBytes);
    expect(planMemory(lifetimes(model, logits, 8, 64, 'forward', ['logits'])).peakBytes).toBeGreaterThan(forward.peakBytes);
  });

  it('stores fused weights side by side, every parameter once, none overlapping', () => {
    const layout = layoutParams(model, (node) => cudaOp(node.op)?.fused?.(node) ?? []);
    expect(layout.slots.size).toBe(model.params.length);
    const dense = model.nodes.find((node) => node.op === 'ffn.swiglu')!;
    const [gate, up] = [layout.slots.get(dense.params[0]!)!, layout.slots.get(dense.params[1]!)!];
    expect(up.offset).toBe(gate.offset + gate.length);
    const sorted = [...layout.slots.values()].sort((a, b) => a.offset - b.offset);
    sorted.slice(1).forEach((s, i) => expect(s.offset).toBeGreaterThanOrEqual(sorted[i]!.offset + sorted[i]!.length));
    expect(layout.floats).toBeGreaterThanOrEqual(sorted.at(-1)!.offset + sorted.at(-1)!.length);
  });

  it('pads each expert segment to a whole tile and computes capacity as specs/ir.md §4.10', () => {
    expect(expertRows(10, 2, 4) % EXPERT_TILE).toBe(0);
    expect(expertRows(10, 2, 4)).toBeGreaterThanOrEqual(20 + 4 * (EXPERT_TILE - 1));
    expect(expertCapacity(null, 10, 2, 4)).toBe(-1);
    expect(expertCapacity(1.25, 10, 2, 4)).toBe(Math.ceil((1.25 * 20) / 4));
  });
});
