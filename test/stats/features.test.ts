/** Issue 20's features in the statistics: parameters (as HF counts them), active parameters, memory and FLOPs. */
import { describe, expect, it } from 'vitest';
import { averageAttendedLength, flopsPerToken } from '../../compiler/stats/flops.js';
import { countParams } from '../../compiler/stats/params.js';
import { stageParams } from '../../compiler/stats/stages.js';
import { mixtral8x7b, smallDense } from './models.js';

describe('parameters of q/k norm, q/k/v biases and the shared gate', () => {
  const base = countParams(smallDense); // 16 layers, 16 heads, 4 kv heads of 128, dim 2048

  it('per-head q/k norm adds 2·head_dim per layer to the norms (Qwen3-MoE)', () => {
    const p = countParams({ ...smallDense, qkNorm: 'head' });
    expect(p.norms - base.norms).toBe(16 * 2 * 128);
    expect(p.total - base.total).toBe(16 * 2 * 128);
    expect(p.activePerToken - base.activePerToken).toBe(16 * 2 * 128);
  });

  it('full-width q/k norm adds (heads + kv_heads)·head_dim per layer (OLMoE)', () => {
    expect(countParams({ ...smallDense, qkNorm: 'full' }).total - base.total).toBe(16 * (16 + 4) * 128);
  });

  it('q/k/v biases add (heads + 2·kv_heads)·head_dim per layer to attention, and no matmul FLOPs', () => {
    const p = countParams({ ...smallDense, qkvBias: true });
    expect(p.attention - base.attention).toBe(16 * (16 + 8) * 128);
    expect(p.total - base.total).toBe(16 * (16 + 8) * 128);
    expect(flopsPerToken({ ...smallDense, qkvBias: true }, 1024).forward).toBe(flopsPerToken(smallDense, 1024).forward);
  });

  it('the shared-expert gate adds dim per MoE layer with shared experts, to the shared experts and the memory', () => {
    const shared = { ...mixtral8x7b, layers: mixtral8x7b.layers.map((l) => (l.kind === 'moe' ? { ...l, shared: 1 } : l)) };
    const gated = { ...shared, layers: shared.layers.map((l) => (l.kind === 'moe' ? { ...l, sharedGate: true } : l)) };
    const [a, b] = [countParams(shared), countParams(gated)];
    expect(b.sharedExperts - a.sharedExperts).toBe(32 * 4096);
    expect(b.total - a.total).toBe(32 * 4096);
    expect(stageParams(gated, 0, 1).nonExpert - stageParams(shared, 0, 1).nonExpert).toBe(32 * 4096);
    // without shared experts there is no gate to count
    const ungatedNothing = { ...mixtral8x7b, layers: mixtral8x7b.layers.map((l) => (l.kind === 'moe' ? { ...l, sharedGate: true } : l)) };
    expect(countParams(ungatedNothing).total).toBe(countParams(mixtral8x7b).total);
  });
});

describe('attention FLOPs under a sliding window', () => {
  it('averages min(i, W) keys over positions 1..S', () => {
    for (const [S, W] of [[10, 3], [4096, 1024], [7, 7], [5, 9]] as const) {
      let sum = 0;
      for (let i = 1; i <= S; i++) sum += Math.min(i, W);
      expect(averageAttendedLength(S, W)).toBeCloseTo(sum / S, 9);
    }
  });

  it('windows only the layers that have one', () => {
    const full = flopsPerToken(smallDense, 4096);
    const windows = Array.from({ length: 16 }, (_, i) => (i % 2 === 0 ? 1024 : null));
    const half = flopsPerToken({ ...smallDense, windows }, 4096);
    const perLayerFull = full.attention / 16;
    const perLayerWindowed = (perLayerFull * averageAttendedLength(4096, 1024)) / averageAttendedLength(4096);
    expect(half.attention).toBeCloseTo(8 * perLayerFull + 8 * perLayerWindowed, 0);
    expect(half.matmul).toBe(full.matmul);
  });
});
