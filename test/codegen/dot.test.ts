/** `--emit dot` and `--emit svg`: the block picture of a model, rendered without a system Graphviz. */
import { describe, expect, it } from 'vitest';
import { EMITTERS } from '../../compiler/codegen/index.js';
import { modelDot } from '../../compiler/codegen/dot.js';
import { renderSvg } from '../../compiler/codegen/svg.js';
import { DENSE, MOE, example, lowerText, onlyModel, tinyModel } from './helpers.js';

describe('dot', () => {
  const v3 = modelDot(onlyModel(example('deepseek-v3')));

  it('collapses runs of identical layers into one labelled cluster', () => {
    expect(v3).toContain('label="layers 0..2 (×3)"');
    expect(v3).toContain('label="layers 3..60 (×58)"');
    // 61 layers, two runs: two attention nodes and two FFN nodes for the main model
    expect(v3.match(/^ {4}layers_\d+_\d+_attn /gm)).toHaveLength(2);
    expect(v3.match(/^ {4}layers_\d+_\d+_ffn /gm)).toHaveLength(2);
  });

  it('labels blocks with their key numbers', () => {
    expect(v3).toContain('MoE 256×(7168→2048) top-8 +1 shared, sigmoid, groups 8/4');
    expect(v3).toContain('SwiGLU FFN 7168→18432');
    expect(v3).toContain('MLA 128 heads, q_rank 1536, kv_rank 512');
    expect(v3).toContain('Embedding 129280×7168');
    expect(v3).toContain('LM head 7168→129280');
    expect(v3).toContain('MTP module 1 (layer 61)');
    expect(v3).toContain('RMSNorm (final)');
    expect(v3).toContain('loss = main + 0.3 · MTP + 59 router losses');
  });

  it('labels a shared expert of its own width (`shared_hidden`) with that width', () => {
    const text = tinyModel(`  layers 0..3 { moe { experts = 4, shared = 1, shared_hidden = 12, hidden = 8, top_k = 2 } }`);
    expect(modelDot(onlyModel(lowerText(text)))).toMatch(/MoE 4×\(\d+→8\) top-2 \+1 shared \(\d+→12\), sigmoid/);
  });

  it('puts shapes on the edges', () => {
    expect(v3).toContain('embedding -> layers_0_2_attn [label="[B, T, 7168]"]');
    expect(v3).toContain('lm_head -> loss_main [label="[B, T, 129280]"]');
    expect(v3).toContain('input_ids -> embedding [label="[B, T]"]');
  });

  it('keeps layers that differ apart', () => {
    const dot = modelDot(onlyModel(lowerText(tinyModel(`  layers 0..0 { ${DENSE} }\n  layers 1..2 { ${MOE} }\n  layers 3..3 { ${DENSE} }`))));
    expect(dot).toContain('label="layer 0"');
    expect(dot).toContain('label="layers 1..2 (×2)"');
    expect(dot).toContain('label="layer 3"');
    expect(dot).toContain('MoE 4×(16→8) top-2, sigmoid\ndropless'.replace('\n', '\\n'));
  });

  it('draws GQA attention and a model without MTP', () => {
    const dot = modelDot(onlyModel(example('mixtral')));
    expect(dot).toContain('label="layers 0..31 (×32)"');
    expect(dot).toContain('GQA 32 heads, 8 kv heads, head_dim 128');
    expect(dot).toContain('MoE 8×(4096→14336) top-2, softmax');
    expect(dot).not.toContain('MTP');
  });

  it('writes MODEL.dot', async () => {
    const result = await EMITTERS.dot(example('r1-tiny'));
    expect('files' in result && result.files.map((f) => f.name)).toEqual(['R1Tiny.dot']);
  });
});

describe('svg', () => {
  it('renders the picture with Graphviz in WebAssembly', async () => {
    const svg = await renderSvg(modelDot(onlyModel(example('deepseek-v3'))));
    expect(svg.startsWith('<svg') || svg.startsWith('<?xml')).toBe(true);
    expect(svg).toContain('</svg>');
    expect(svg).toContain('layers 3..60 (×58)');
    expect(svg).toContain('MoE 256×(7168→2048) top&#45;8 +1 shared, sigmoid, groups 8/4');
  });

  it('writes MODEL.svg', async () => {
    const result = await EMITTERS.svg(example('mixtral'));
    if ('error' in result) throw new Error(result.error);
    expect(result.files.map((f) => f.name)).toEqual(['Mixtral8x7B.svg']);
    expect(result.files[0]!.text).toMatch(/^(<\?xml|<svg)/);
  });

  it('reports a DOT that Graphviz refuses', async () => {
    await expect(renderSvg('digraph { a -> }')).rejects.toThrow();
  });
});
