import { describe, expect, it } from 'vitest';
import { countParams, layerParams, mtpParams, type ParamBreakdown } from '../../compiler/stats/params.js';
import type { ModelShape } from '../../compiler/stats/shape.js';
import { deepSeekV2Lite, deepSeekV3, mixtral8x7b, smallDense } from './models.js';

function sumOfParts(p: ParamBreakdown): number {
  return (
    p.embedding + p.attention + p.denseFfn + p.router + p.routedExperts + p.sharedExperts + p.norms + p.lmHead
  );
}

describe('countParams matches HuggingFace', () => {
  it('DeepSeek-V3 has 671,026,404,352 parameters', () => {
    // per layer: attention 187,105,280 (q_a 11,010,048 + q_b 37,748,736 + kv_a 4,128,768
    // + kv_b 16,777,216 + o 117,440,512) and norms 16,384 (2·7168 + 1536 + 512);
    // 3 dense MLPs of 396,361,728; 58 MoE layers of 11,320,164,352 (router 1,835,008
    // + 256 experts × 44,040,192 + 1 shared 44,040,192); embedding + lm_head 2 × 926,679,040;
    // final norm 7168.
    expect(countParams(deepSeekV3).total).toBe(671_026_404_352);
  });

  it('Mixtral-8x7B has 46,702,792,704 parameters', () => {
    expect(countParams(mixtral8x7b).total).toBe(46_702_792_704);
  });

  it('DeepSeek-V2-Lite has 15,706,484,224 parameters', () => {
    // embedding + lm_head: 2 × 102400·2048 = 419,430,400
    // attention × 27: (q_proj 2048·16·192 = 6,291,456 + kv_a 2048·576 = 1,179,648
    //   + kv_b 512·16·256 = 2,097,152 + o 16·128·2048 = 4,194,304) = 13,762,560 → 371,589,120
    // norms: 27 × (2·2048 + 512) + 2048 = 126,464
    // layer 0 dense: 3·2048·10944 = 67,239,936
    // 26 MoE layers × (router 64·2048 = 131,072 + routed 64·3·2048·1408 = 553,648,128
    //   + shared 3·2048·2816 = 17,301,504) = 26 × 571,080,704 = 14,848,098,304
    // sum: 419,430,400 + 371,589,120 + 126,464 + 67,239,936 + 14,848,098,304 = 15,706,484,224
    expect(countParams(deepSeekV2Lite).total).toBe(15_706_484_224);
  });

  it.each([
    ['DeepSeek-V3', deepSeekV3],
    ['DeepSeek-V2-Lite', deepSeekV2Lite],
    ['Mixtral-8x7B', mixtral8x7b],
    ['dense', smallDense],
  ])('%s breakdown sums to the total', (_name, model) => {
    const p = countParams(model);
    expect(sumOfParts(p)).toBe(p.total);
  });

  it('counts the router as experts × dim (the score-correction bias is a buffer)', () => {
    const p = countParams(deepSeekV3);
    expect(p.router).toBe(58 * 256 * 7168);
  });

  it('puts the MLA low-rank norms with the norms, not the attention', () => {
    expect(layerParams(deepSeekV3, deepSeekV3.layers[0]!).norms).toBe(2 * 7168 + 1536 + 512);
    // qRank 0: no q_a_layernorm
    expect(layerParams(deepSeekV2Lite, deepSeekV2Lite.layers[0]!).norms).toBe(2 * 2048 + 512);
  });
});

describe('tied embeddings', () => {
  it('drop the lm_head and nothing else', () => {
    const untied = countParams(mixtral8x7b);
    const tied = countParams({ ...mixtral8x7b, tieEmbeddings: true });
    expect(tied.lmHead).toBe(0);
    expect(untied.lmHead).toBe(32000 * 4096);
    expect(untied.total - tied.total).toBe(32000 * 4096);
    expect(untied.activePerToken - tied.activePerToken).toBe(32000 * 4096);
  });
});

describe('GQA', () => {
  it('with kvHeads = heads counts as multi-head attention', () => {
    const dim = 1024;
    const hidden = 2816;
    const layers = 4;
    const vocab = 1000;
    const mha: ModelShape = {
      vocab,
      dim,
      context: 2048,
      tieEmbeddings: false,
      attention: { kind: 'gqa', heads: 8, kvHeads: 8, headDim: 128 },
      layers: Array.from({ length: layers }, () => ({ kind: 'dense', hidden }) as const),
      mtpDepth: 0,
    };
    // q, k, v, o all dim × dim; two norms and an MLP per layer; embedding, head, final norm.
    const expected = 2 * vocab * dim + layers * (4 * dim * dim + 2 * dim + 3 * dim * hidden) + dim;
    expect(countParams(mha).total).toBe(expected);
  });

  it('shrinks k_proj and v_proj with fewer kv heads', () => {
    const mha = countParams({ ...smallDense, attention: { kind: 'gqa', heads: 16, kvHeads: 16, headDim: 128 } });
    const gqa = countParams(smallDense);
    expect(mha.attention - gqa.attention).toBe(16 * 2 * 2048 * (16 - 4) * 128);
  });
});

describe('activePerToken', () => {
  it('is below the total for MoE models', () => {
    for (const model of [deepSeekV3, deepSeekV2Lite, mixtral8x7b]) {
      const p = countParams(model);
      expect(p.activePerToken).toBeLessThan(p.total);
    }
  });

  it('equals the total for dense models', () => {
    const p = countParams(smallDense);
    expect(p.activePerToken).toBe(p.total);
  });

  it('drops exactly the unselected routed experts', () => {
    const v3 = countParams(deepSeekV3);
    expect(v3.activePerToken).toBe(v3.total - 58 * (256 - 8) * 3 * 7168 * 2048);
    expect(v3.activePerToken).toBe(37_552_282_624);
    const mixtral = countParams(mixtral8x7b);
    expect(mixtral.activePerToken).toBe(mixtral.total - 32 * (8 - 2) * 3 * 4096 * 14336);
  });
});

describe('MTP modules', () => {
  it('are reported apart and kept out of the total', () => {
    const withMtp = countParams(deepSeekV3);
    const without = countParams({ ...deepSeekV3, mtpDepth: 0 });
    expect(withMtp.total).toBe(without.total);
    expect(without.mtp.total).toBe(0);
  });

  it('hold enorm, hnorm, eh_proj, a last-layer copy and a head norm', () => {
    const last = layerParams(deepSeekV3, deepSeekV3.layers[60]!);
    const lastTotal =
      last.attention + last.norms + last.denseFfn + last.router + last.routedExperts + last.sharedExperts;
    const mtp = countParams(deepSeekV3).mtp;
    expect(mtp.perModule).toBe(3 * 7168 + 2 * 7168 * 7168 + lastTotal);
    expect(mtp.perModule).toBe(11_610_067_968);
    expect(mtp.activePerModule).toBe(mtp.perModule - (256 - 8) * 3 * 7168 * 2048);
    expect(mtpParams({ ...deepSeekV3, mtpDepth: 2 }).total).toBe(2 * mtp.perModule);
  });

  it('need a layer to copy', () => {
    expect(() => mtpParams({ ...smallDense, layers: [], mtpDepth: 1 })).toThrow(RangeError);
  });
});
