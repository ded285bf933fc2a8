/** The cuda executor's host side: what it plans for a real spec, without a GPU. */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeHost } from '../../../compiler/bind/node-host.js';
import { checkFile } from '../../../compiler/check/index.js';
import { lowerSpec } from '../../../compiler/lower/index.js';
import { concatRows, forwardNeeds } from '../../../runtime/cuda/executor.js';
import { CUDA_OPS, expertCapacity, expertRows, EXPERT_TILE } from '../../../runtime/cuda/ops.js';
import { planMemory } from '../../../runtime/cuda/plan.js';
import { neededNodes } from '../../../runtime/model/forward.js';

const repo = resolve(import.meta.dirname, '..', '..', '..');
const model = lowerSpec(checkFile(resolve(repo, 'examples/r1-tiny.moe'), nodeHost), repo).models[0]!;

describe('cuda executor planning (r1-tiny)', () => {
  it('has a kernel for every op the logits need', () => {
    for (const node of neededNodes(model, ['logits'])) expect(CUDA_OPS[node.op], node.op).toBeDefined();
  });

  it('plans every value and temporary of the logits, sharing memory between dead ones', () => {
    const nodes = neededNodes(model, ['logits']);
    const needs = forwardNeeds(model, nodes, 4, 64);
    for (const node of nodes) for (const out of node.outputs) expect(needs.some((n) => n.name === out)).toBe(true);
    const logits = needs.find((n) => n.name === 'logits')!;
    expect(logits.bytes).toBe(4 * 64 * 320 * 4);
    const plan = planMemory(needs);
    expect(plan.peakBytes).toBeLessThan(plan.totalBytes / 2);
    // the peak grows with the batch: the plan is per evaluation shape
    expect(planMemory(forwardNeeds(model, nodes, 8, 64)).peakBytes).toBeGreaterThan(plan.peakBytes);
  });

  it('pads each expert segment to a whole tile and computes capacity as specs/ir.md §4.10', () => {
    expect(expertRows(10, 2, 4)).toBe(20 + 4 * (EXPERT_TILE - 1));
    expect(expertCapacity(null, 10, 2, 4)).toBe(-1);
    expect(expertCapacity(1.25, 10, 2, 4)).toBe(Math.ceil((1.25 * 20) / 4));
  });

  it('lays fused weights side by side per expert', () => {
    const gate = Float32Array.from([1, 2, 3, 4]); // [2 experts, 1 row, 2]
    const up = Float32Array.from([5, 6, 7, 8]);
    expect(Array.from(concatRows([{ data: gate, shape: [2, 1, 2] }, { data: up, shape: [2, 1, 2] }]))).toEqual([1, 2, 5, 6, 3, 4, 7, 8]);
    expect(Array.from(concatRows([{ data: gate, shape: [2, 2] }, { data: up, shape: [2, 2] }]))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
});
