/** The cuda executor's host side: buffer lifetimes, the memory plan and the parameter layout for real specs, without a GPU. */
import { resolve } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { nodeHost } from '../../../compiler/bind/node-host.js';
import { checkFile } from '../../../compiler/check/index.js';
import { lowerSpec } from '../../../compiler/lower/index.js';
import { bufferIn, gradName, lifetimes, opBuffer, shapesOf, timeline } from '../../../runtime/cuda/lifetimes.js';
import { cudaOp, expertCapacity, expertRows, EXPERT_TILE } from '../../../runtime/cuda/ops/index.js';
import { layoutParams } from '../../../runtime/cuda/params.js';
import { ALIGN, planMemory } from '../../../runtime/cuda/plan.js';
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
    const needs = lifetimes(model, nodes, 2, 32, 'train', ['loss'], 'fp32');
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
    const forward = planMemory(lifetimes(model, logits, 4, 64, 'forward', ['logits'], 'fp32'));
    expect(forward.peakBytes).toBeLessThan(forward.totalBytes / 2);
    const train = planMemory(lifetimes(model, neededNodes(model, ['loss']), 4, 64, 'train', ['loss'], 'fp32'));
    expect(train.peakBytes).toBeGreaterThan(forward.peakBytes);
    expect(planMemory(lifetimes(model, logits, 8, 64, 'forward', ['logits'], 'fp32')).peakBytes).toBeGreaterThan(forward.peakBytes);
  });

  it('sizes the grouped GEMMs\' bf16 operands (xs, act, dout, dgu) at 2 bytes an element in bf16, drops attention\'s score buffers (flash), every other buffer as in fp32', () => {
    const [B, T] = [2, 32];
    const nodes = neededNodes(model, ['loss']);
    const fp32 = lifetimes(model, nodes, B, T, 'train', ['loss'], 'fp32');
    const bf16 = new Map(lifetimes(model, nodes, B, T, 'train', ['loss'], 'bf16').map((b) => [b.name, b]));
    // per experts node, the fp32 element count of each buffer read as bf16 in bf16 mode
    const halved = new Map<string, number>();
    nodes.forEach((node, i) => {
      if (node.op !== 'moe.experts') return;
      const shapes = shapesOf(model, node);
      const rows = expertRows(B * T, node.attrs.top_k as number, node.attrs.experts as number);
      const [D, F] = [shapes.outputWidth(0), shapes.paramShape(0).at(-2)!];
      for (const [name, floats] of [['xs', rows * D], ['act', rows * F], ['dout', rows * D], ['dgu', rows * 2 * F]] as const) halved.set(opBuffer(i, name), floats);
    });
    expect(halved.size).toBeGreaterThan(0);
    // bf16 attention is flash (ops/attention-path.ts): no [T, H, T] scores, in the forward or the backward
    const scores = new Set(nodes.flatMap((node, i) => (node.op.startsWith('attention.') ? ['scores', 'bscores', 'dscores'].map((b) => opBuffer(i, b)) : [])));
    expect(fp32.filter((b) => scores.has(b.name))).toHaveLength(scores.size);
    expect([...bf16.keys()].filter((name) => scores.has(name))).toEqual([]);
    expect(bf16.size).toBe(fp32.length - scores.size);
    for (const need of fp32.filter((b) => !scores.has(b.name))) {
      const floats = halved.get(need.name);
      // fp32 keeps 4 bytes an element; only these four buffers shrink, nothing else moves
      if (floats !== undefined) expect([need.bytes, bf16.get(need.name)!.bytes], need.name).toEqual([floats * 4, floats * 2]);
      expect(bf16.get(need.name), need.name).toEqual(floats === undefined ? need : { ...need, bytes: floats * 2 });
    }
  });

  it('plans a smaller arena in bf16 by exactly the halved operands where the experts\' step is the peak', () => {
    // attention as products in both precisions, so the experts' operands are the only difference
    const saved = process.env.MOE_CUDA_ATTENTION;
    process.env.MOE_CUDA_ATTENTION = 'products';
    onTestFinished(() => {
      if (saved === undefined) delete process.env.MOE_CUDA_ATTENTION;
      else process.env.MOE_CUDA_ATTENTION = saved;
    });
    const [B, T] = [2, 32];
    const aligned = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;
    const plans = (mode: 'forward' | 'train', wanted: string[]) => {
      const nodes = neededNodes(model, wanted);
      const [fp32, bf16] = [lifetimes(model, nodes, B, T, mode, wanted, 'fp32'), lifetimes(model, nodes, B, T, mode, wanted, 'bf16')];
      const saved = fp32.reduce((s, n, i) => s + aligned(n.bytes) - aligned(bf16[i]!.bytes), 0);
      return { fp32: planMemory(fp32), bf16: planMemory(bf16), saved };
    };
    // a forward pass: xs and act (each half its fp32 size) live at the experts' step, the arena's peak
    const forward = plans('forward', ['logits']);
    const experts = neededNodes(model, ['logits']).findIndex((n) => n.op === 'moe.experts');
    const halves = ['xs', 'act'].reduce((s, b) => s + forward.fp32.buffers.get(opBuffer(experts, b))!.bytes / 2, 0);
    expect(forward.saved).toBe(halves);
    expect(forward.fp32.peakBytes - forward.bf16.peakBytes).toBe(halves);
    // training: every byte of the four operands is saved in the sum; the first-fit peak drops, by at most that
    const train = plans('train', ['loss']);
    expect(train.fp32.totalBytes - train.bf16.totalBytes).toBe(train.saved);
    expect(train.bf16.peakBytes).toBeLessThan(train.fp32.peakBytes);
    expect(train.fp32.peakBytes - train.bf16.peakBytes).toBeLessThanOrEqual(train.saved);
  });

  describe('recompute = full', () => {
    const nodes = neededNodes(model, ['loss']);
    const n = nodes.length;
    const line = timeline(nodes, 'train', true);

    it('re-runs each layer\'s forward, in node order, just before the layer\'s backward', () => {
      const layered = nodes.filter((node) => node.layer !== undefined).length;
      expect(layered).toBeGreaterThan(0);
      expect(line.events).toHaveLength(2 * n + layered);
      nodes.forEach((node, i) => {
        expect(line.fwd[i]).toBe(i);
        if (node.layer === undefined) return expect(line.re[i]).toBeUndefined();
        // after every forward, before its own backward, and the whole layer re-runs before any of its backward
        expect(line.re[i]).toBeGreaterThan(n - 1);
        expect(line.re[i]).toBeLessThan(line.bwd[i]!);
        const sameLayer = nodes.flatMap((other, j) => (other.layer === node.layer ? [j] : []));
        for (const j of sameLayer) expect(line.re[i]).toBeLessThan(line.bwd[j]!);
        if (i > 0 && nodes[i - 1]!.layer === node.layer) expect(line.re[i]).toBe(line.re[i - 1]! + 1);
      });
      // without recompute, the timeline is the plain one
      const plain = timeline(nodes, 'train', false);
      expect(plain.events).toHaveLength(2 * n);
      nodes.forEach((_, i) => expect(plain.bwd[i]).toBe(2 * n - 1 - i));
    });

    it('has every buffer a pass reads or writes alive at that step (a forward, re-run and backward walk)', () => {
      const needs = lifetimes(model, nodes, 2, 32, 'train', ['loss'], 'fp32', true);
      const byName = new Map(needs.map((b) => [b.name, b]));
      const touched = new Set<string>();
      line.events.forEach(({ pass, node: i }, step) => {
        const node = nodes[i]!;
        const resolve = (name: string): string => bufferIn(name, pass, line.re[i] !== undefined, (x) => byName.has(x));
        const access: string[] = [...node.inputs, ...node.outputs].map(resolve);
        for (const b of cudaOp(node.op)!.buffers(shapesOf(model, node), 2, 32, 'fp32')) {
          if (b.scope === 'grad' ? pass === 'bwd' : pass !== 'bwd' || b.scope === 'saved') access.push(resolve(opBuffer(i, b.name)));
        }
        if (pass === 'bwd') for (const v of [...node.inputs, ...node.outputs]) if (byName.has(gradName(v))) access.push(gradName(v));
        for (const name of access) {
          const need = byName.get(name);
          expect(need, `${pass} ${node.op} ${name}`).toBeDefined();
          expect(need!.first <= step && step <= need!.last, `${pass} of ${node.op} (step ${step}) uses ${name}, alive ${need!.first}..${need!.last}`).toBe(true);
          touched.add(name);
        }
      });
      // and the second lives exist and are used: recompute changes what the backward reads
      const second = [...byName.keys()].filter((k) => k.endsWith('↻'));
      expect(second.length).toBeGreaterThan(0);
      for (const k of second) expect(touched.has(k), k).toBe(true);
    });

    it('keeps only what crosses a layer border from the forward to the backward, so the training arena shrinks', () => {
      const [B, T] = [8, 64];
      const full = lifetimes(model, nodes, B, T, 'train', ['loss'], 'fp32', true);
      const kept = full.filter((b) => !b.name.endsWith('↻') && b.last >= n && b.first < n && !b.name.startsWith('∇'));
      expect(kept.length).toBeGreaterThan(0);
      for (const b of kept) {
        const p = nodes.findIndex((node) => node.outputs.includes(b.name));
        if (p < 0) continue; // graph inputs
        const readers = nodes.flatMap((node, j) => (node.inputs.includes(b.name) ? [j] : []));
        const crosses = nodes[p]!.layer === undefined || readers.some((r) => nodes[r]!.layer !== nodes[p]!.layer);
        expect(crosses, `${b.name} kept across the step`).toBe(true);
      }
      const plain = planMemory(lifetimes(model, nodes, B, T, 'train', ['loss'], 'fp32'));
      const recomputed = planMemory(full);
      expect(recomputed.peakBytes).toBeLessThan(plain.peakBytes);
    });
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
