import { describe, expect, it } from 'vitest';
import { attentionFlopsPerLayer, flopsPerToken } from '../../compiler/stats/flops.js';
import { countParams } from '../../compiler/stats/params.js';
import { deepSeekV3, mixtral8x7b, smallDense } from './models.js';

describe('flopsPerToken', () => {
  it('gives DeepSeek-V3 forward FLOPs at S = 4096', () => {
    const f = flopsPerToken(deepSeekV3, 4096);
    const p = countParams(deepSeekV3);
    // untied: matmul params = active − embedding − norms
    expect(f.matmulParams).toBe(p.activePerToken - p.embedding - p.norms);
    // 61 layers × (2·128·192 + 2·128·128) × (4096 + 1) / 2
    expect(f.attention).toBe(61 * 81920 * 2048.5);
    expect(f.forward).toBe(2 * f.matmulParams + f.attention);
    expect(f.forward).toBe(83_485_794_304);
  });

  it('uses headDim for both scores and values in GQA', () => {
    expect(attentionFlopsPerLayer(mixtral8x7b.attention, 1)).toBe(2 * 32 * 128 * 1 + 2 * 32 * 128 * 1);
  });

  it('counts the output head even when tied', () => {
    const untied = flopsPerToken(smallDense, 1024);
    const tied = flopsPerToken({ ...smallDense, tieEmbeddings: true }, 1024);
    expect(tied.forward).toBe(untied.forward);
  });

  it('is 2 × parameters minus embedding and norms for a dense model, plus attention', () => {
    const p = countParams(smallDense);
    const f = flopsPerToken(smallDense, 2048);
    expect(f.matmul).toBe(2 * (p.total - p.embedding - p.norms));
  });

  it('grows with sequence length', () => {
    expect(flopsPerToken(mixtral8x7b, 8192).forward).toBeGreaterThan(flopsPerToken(mixtral8x7b, 4096).forward);
  });

  it('defaults the sequence length to the context', () => {
    expect(flopsPerToken(smallDense)).toEqual(flopsPerToken(smallDense, smallDense.context));
  });

  it('trains at 3 × forward without MTP', () => {
    const f = flopsPerToken(mixtral8x7b, 4096);
    expect(f.mtpForward).toBe(0);
    expect(f.trainingWithoutMtp).toBe(3 * f.forward);
    expect(f.training).toBe(f.trainingWithoutMtp);
  });

  it('adds 3 × the MTP forward when there are MTP modules', () => {
    const f = flopsPerToken(deepSeekV3, 4096);
    expect(f.trainingWithoutMtp).toBe(3 * f.forward);
    expect(f.mtpForward).toBeGreaterThan(0);
    expect(f.training).toBe(3 * (f.forward + f.mtpForward));
    const two = flopsPerToken({ ...deepSeekV3, mtpDepth: 2 }, 4096);
    expect(two.mtpForward).toBe(2 * f.mtpForward);
  });

  it('costs an MTP module its eh_proj, last layer, one attention and the output head', () => {
    const p = countParams(deepSeekV3);
    const f = flopsPerToken(deepSeekV3, 4096);
    // the MTP layer's norms: 3·dim of its own + the decoder layer's 2·dim + q_a/kv_a norms
    const matmul = p.mtp.activePerModule - (3 * 7168 + 2 * 7168 + 1536 + 512) + 129280 * 7168;
    expect(f.mtpForward).toBe(2 * matmul + 81920 * 2048.5);
  });
});
