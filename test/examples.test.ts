/** Every example checks clean, and the statistics of the real configs match HF transformers. */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeHost } from '../compiler/bind/node-host.js';
import { checkFile } from '../compiler/check/index.js';
import { specStats } from '../compiler/check/stats.js';

const dir = join(import.meta.dirname, '..', 'examples');
const examples = readdirSync(dir).filter((f) => f.endsWith('.moe'));

describe('examples', () => {
  it('are all here', () => {
    expect(examples).toEqual(
      expect.arrayContaining(['deepseek-v3.moe', 'deepseek-v2-lite.moe', 'deepseek-tiny.moe', 'mixtral.moe', 'r1-tiny.moe', 'qwen3-30b-a3b.moe', 'olmoe-1b-7b.moe', 'qwen1.5-moe-a2.7b.moe']),
    );
  });

  for (const file of examples) {
    it(`${file} checks clean`, () => {
      const result = checkFile(join(dir, file), nodeHost);
      expect(result.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([]);
    });
  }

  const total = (file: string, model: string): number | undefined =>
    specStats(checkFile(join(dir, file), nodeHost).context).models.find((m) => m.model === model)?.params.total;

  // Measured with HF transformers on the GPU machine: `python3 bench/peer/hf_param_count.py`
  // (sum of p.numel() over model.parameters(); the router bias is a buffer, MTP is dropped by HF).
  const hf = JSON.parse(readFileSync(join(import.meta.dirname, 'reference', 'hf-param-counts.json'), 'utf8')) as {
    counts: Record<string, number>;
  };
  const cases: [file: string, model: string][] = [
    ['deepseek-v3.moe', 'DeepSeekV3'],
    ['deepseek-v2-lite.moe', 'DeepSeekV2Lite'],
    ['mixtral.moe', 'Mixtral8x7B'],
    ['deepseek-tiny.moe', 'DeepSeekTiny'],
  ];
  for (const [file, model] of cases) {
    it(`${model} has exactly HF transformers' parameter count (${hf.counts[model]?.toLocaleString('en-US')})`, () => {
      expect(hf.counts[model]).toBeGreaterThan(0);
      expect(total(file, model)).toBe(hf.counts[model]);
    });
  }

  // Issue 20's families (q/k norm, q/k/v biases, the shared-expert gate), measured with transformers
  // 5.17 from the hub configs into test/reference/hf/param-counts.json, keyed by the HF model name.
  const hf20 = JSON.parse(readFileSync(join(import.meta.dirname, 'reference', 'hf', 'param-counts.json'), 'utf8')) as {
    counts: Record<string, number>;
  };
  const cases20: [file: string, model: string, hfName: string][] = [
    ['qwen3-30b-a3b.moe', 'Qwen3_30B_A3B', 'Qwen3-30B-A3B'],
    ['olmoe-1b-7b.moe', 'OLMoE_1B_7B', 'OLMoE-1B-7B-0924'],
    ['qwen1.5-moe-a2.7b.moe', 'Qwen15MoeA27B', 'Qwen1.5-MoE-A2.7B'],
  ];
  for (const [file, model, hfName] of cases20) {
    it(`${hfName} has exactly HF transformers' parameter count (${hf20.counts[hfName]?.toLocaleString('en-US')})`, () => {
      expect(hf20.counts[hfName]).toBeGreaterThan(0);
      expect(total(file, model)).toBe(hf20.counts[hfName]);
    });
  }

  it('DeepSeek-V3 is 671,026,404,352 without MTP, as the issue states', () => {
    expect(total('deepseek-v3.moe', 'DeepSeekV3')).toBe(671_026_404_352);
  });

  it('the DeepSeek-V3 plan fits 80 GiB devices and reports its memory split', () => {
    const stats = specStats(checkFile(join(dir, 'deepseek-v3.moe'), nodeHost).context);
    const base = stats.stages.find((s) => s.stage === 'base');
    expect(base?.devices).toBe(2048);
    expect(base!.memory.total).toBeLessThan(80 * 2 ** 30);
    expect(base!.memory.weights + base!.memory.gradients + base!.memory.optimizer + base!.memory.activations).toBeCloseTo(base!.memory.total);
  });
});
