/** Every example checks clean, and the statistics of the real configs match HF transformers. */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeHost } from '../compiler/bind/node-host.js';
import { checkFile } from '../compiler/check/index.js';
import { specStats } from '../compiler/check/stats.js';

const dir = join(import.meta.dirname, '..', 'examples');
const examples = readdirSync(dir).filter((f) => f.endsWith('.moe'));

describe('examples', () => {
  it('are all here', () => {
    expect(examples).toEqual(expect.arrayContaining(['deepseek-v3.moe', 'deepseek-v2-lite.moe', 'mixtral.moe', 'r1-tiny.moe']));
  });

  for (const file of examples) {
    it(`${file} checks clean`, () => {
      const result = checkFile(join(dir, file), nodeHost);
      expect(result.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([]);
    });
  }

  const total = (file: string, model: string): number | undefined =>
    specStats(checkFile(join(dir, file), nodeHost).context).models.find((m) => m.model === model)?.params.total;

  // HF transformers counts (sum of p.numel() over model.parameters(), router bias is a buffer)
  it('DeepSeek-V3 has 671,026,404,352 parameters without MTP', () => {
    expect(total('deepseek-v3.moe', 'DeepSeekV3')).toBe(671_026_404_352);
  });

  it('Mixtral-8x7B has 46,702,792,704 parameters', () => {
    expect(total('mixtral.moe', 'Mixtral8x7B')).toBe(46_702_792_704);
  });

  it('DeepSeek-V2-Lite has 15,706,484,224 parameters', () => {
    expect(total('deepseek-v2-lite.moe', 'DeepSeekV2Lite')).toBe(15_706_484_224);
  });

  it('the DeepSeek-V3 plan fits 80 GiB devices and reports its memory split', () => {
    const stats = specStats(checkFile(join(dir, 'deepseek-v3.moe'), nodeHost).context);
    const base = stats.stages.find((s) => s.stage === 'base');
    expect(base?.devices).toBe(2048);
    expect(base!.memory.total).toBeLessThan(80 * 2 ** 30);
    expect(base!.memory.weights + base!.memory.gradients + base!.memory.optimizer + base!.memory.activations).toBeCloseTo(base!.memory.total);
  });
});
