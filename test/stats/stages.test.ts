import { describe, expect, it } from 'vitest';
import { countParams } from '../../compiler/stats/params.js';
import { stageLayers, stageParams } from '../../compiler/stats/stages.js';
import { deepSeekV3, smallDense } from './models.js';

describe('stageLayers', () => {
  it('gives ceil(layers / pipeline) contiguous layers to the first stages', () => {
    expect(stageLayers(61, 0, 16)).toEqual([0, 1, 2, 3]);
    expect(stageLayers(61, 15, 16)).toEqual([60]);
    expect(stageLayers(3, 3, 4)).toEqual([]);
    expect(stageLayers(16, 0, 4)).toEqual([0, 1, 2, 3]);
    expect(stageLayers(16, 3, 4)).toEqual([12, 13, 14, 15]);
  });

  it('covers every layer exactly once', () => {
    const all = Array.from({ length: 16 }, (_, s) => stageLayers(61, s, 16)).flat();
    expect(all).toEqual(Array.from({ length: 61 }, (_, i) => i));
  });
});

describe('stageParams', () => {
  it('add up to the model (plus the MTP modules) when untied', () => {
    const p = countParams(deepSeekV3);
    let sum = 0;
    for (let s = 0; s < 8; s++) {
      const stage = stageParams(deepSeekV3, s, 8);
      sum += stage.nonExpert + stage.expert;
    }
    expect(sum).toBe(p.total + p.mtp.total);
  });

  it('keep a copy of a tied embedding on the last stage when pipelined', () => {
    const tied = { ...smallDense, tieEmbeddings: true };
    const first = stageParams(tied, 0, 2);
    const last = stageParams(tied, 1, 2);
    expect(first.nonExpert + last.nonExpert).toBe(countParams(tied).total + 32000 * 2048);
  });

  it('put the MTP modules on the last stage only', () => {
    const without = { ...deepSeekV3, mtpDepth: 0 };
    const mtp = countParams(deepSeekV3).mtp.total;
    const last = (model: typeof deepSeekV3): number => {
      const stage = stageParams(model, 7, 8);
      return stage.nonExpert + stage.expert;
    };
    expect(last(deepSeekV3) - last(without)).toBe(mtp);
    expect(stageParams(deepSeekV3, 0, 8)).toEqual(stageParams(without, 0, 8));
  });
});
