/** Issue 20's features in the statistics: parameters (as HF counts them), active parameters, memory and FLOPs. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeHost } from '../../compiler/bind/node-host.js';
import { checkFile } from '../../compiler/check/index.js';
import { specStats } from '../../compiler/check/stats.js';
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

/** Elements of every tensor in a safetensors file: HF's parameter count of a model it saved untied. */
function safetensorsElements(path: string): number {
  const bytes = readFileSync(path);
  const header = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString('utf8')) as Record<string, { shape?: number[] }>;
  return Object.entries(header)
    .filter(([name]) => name !== '__metadata__')
    .reduce((acc, [, t]) => acc + (t.shape ?? []).reduce((a, b) => a * b, 1), 0);
}

describe('the shared experts\' width (`shared_hidden`)', () => {
  it('sizes their one MLP (3·dim·width parameters) and nothing else; their matmul FLOPs follow', () => {
    const shared = { ...mixtral8x7b, layers: mixtral8x7b.layers.map((l) => (l.kind === 'moe' ? { ...l, shared: 1 } : l)) };
    const wide = { ...shared, layers: shared.layers.map((l) => (l.kind === 'moe' ? { ...l, sharedHidden: 21000 } : l)) };
    const [a, b] = [countParams(shared), countParams(wide)];
    expect(b.sharedExperts - a.sharedExperts).toBe(32 * 3 * 4096 * (21000 - 14336));
    expect(b.routedExperts).toBe(a.routedExperts);
    expect(flopsPerToken(wide, 1024).matmul - flopsPerToken(shared, 1024).matmul).toBe(2 * 32 * 3 * 4096 * (21000 - 14336));
  });

  it('gives the exact parameter count of the transformers-made qwen2-moe-micro (shared expert 24 wide, experts 16)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'moe-shared-hidden-'));
    const spec = join(dir, 'q.moe');
    // test/reference/hf/qwen2-moe-micro/config.json, written as a spec
    writeFileSync(
      spec,
      `model Q {
  vocab = 128, dim = 32, layers = 2, context = 128, tie_embeddings = false
  norm rmsnorm { eps = 1e-6 }
  attention gqa { heads = 4, kv_heads = 2, qkv_bias = true }
  layers 0..1 {
    moe {
      experts = 8, shared = 1, shared_hidden = 24, shared_gate = true, hidden = 16, top_k = 2
      router { score = softmax, normalize = false }
    }
  }
}
`,
    );
    const result = checkFile(spec, nodeHost);
    expect(result.diagnostics.map((d) => d.code)).toEqual([]);
    const total = specStats(result.context).models.find((m) => m.model === 'Q')?.params.total;
    expect(total).toBe(safetensorsElements(join(import.meta.dirname, '..', 'reference', 'hf', 'qwen2-moe-micro', 'model.safetensors')));
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
