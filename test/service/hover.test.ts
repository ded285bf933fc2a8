import { describe, expect, it } from 'vitest';
import { hover } from '../../compiler/service/index.js';
import { analyzeExample, analyzeText, cursor, exampleText, offsetOf } from './helpers.js';

const v3 = exampleText('deepseek-v3.moe');
const tiny = exampleText('r1-tiny.moe');

function hoverExample(name: string, text: string, needle: string, delta = 0, nth = 1): string {
  return hover(analyzeExample(name, text), offsetOf(text, needle, delta, nth))?.markdown ?? '';
}

function hoverMarked(marked: string, others: Record<string, string> = {}): string {
  const { text, offset } = cursor(marked);
  return hover(analyzeText(text, others), offset)?.markdown ?? '';
}

describe('hover on the 671B example', () => {
  it('a model name shows parameters, active parameters, KV cache and FLOPs per token', () => {
    const md = hoverExample('deepseek-v3.moe', v3, 'model DeepSeekV3', 8);
    expect(md).toContain('671.03B (671,026,404,352)');
    expect(md).toContain('37.55B');
    expect(md).toContain('68.6 KiB (70,272 bytes');
    expect(md).toContain('83.49 GFLOPs at sequence length 4096');
    expect(md).toContain('256 experts top-8 + 1 shared');
  });

  it('a shared expert of its own width shows the width, not only the count', () => {
    const spec = (shared: string): string => `model ¦Q {
      vocab = 128, dim = 32, layers = 2, context = 64
      attention gqa { heads = 4, kv_heads = 2 }
      layers 0..1 { moe { experts = 8, top_k = 2, hidden = 16, ${shared} } }
    }`;
    expect(hoverMarked(spec('shared = 1, shared_hidden = 24'))).toContain('8 experts top-2 + 1 shared (width 24)');
    expect(hoverMarked(spec('shared = 2'))).toMatch(/8 experts top-2 \+ 2 shared(?! \(width)/);
  });

  it('a reference to the model shows the same numbers', () => {
    expect(hoverExample('deepseek-v3.moe', v3, '= DeepSeekV3', 3)).toContain('671.03B');
  });

  it('a stage name shows its resolved hyper-parameters, defaults marked, and its memory per device', () => {
    const md = hoverExample('deepseek-v3.moe', v3, 'pretrain base', 10);
    expect(md).toContain('pretrain base {');
    expect(md).toContain('optimizer adamw {');
    expect(md).toContain('lr = 0.00022');
    expect(md).toContain('batch = 15360 sequences');
    expect(md).toContain('steps = 14.8T tokens');
    expect(md).toContain('seed = 0  // default');
    expect(md).toContain('recompute = full');
    expect(md).toContain('training length: 235,240 steps');
    expect(md).toMatch(/memory per device on `h800` \(pipeline stage \d+\): [\d.]+ GiB of 80\.0 GiB, fits/);
  });

  it('a field shows doc, type, range and its value there', () => {
    const md = hoverExample('deepseek-v3.moe', v3, 'top_k', 1);
    expect(md).toContain('top_k: whole number');
    expect(md).toContain('experts activated per token (HF `num_experts_per_tok`)');
    expect(md).toContain('range: [1, 65536]');
    expect(md).toContain('value here: `8`');
  });

  it('a quantity field shows its unit; a defaulted field its default', () => {
    const memory = hoverExample('deepseek-v3.moe', v3, 'memory  =', 1);
    expect(memory).toContain('unit: bytes (a plain number is bytes)');
    expect(memory).toContain('value here: `80.0 GiB`');
    const score = hoverExample('deepseek-v3.moe', v3, 'score ', 1);
    expect(score).toContain('default: `sigmoid`');
  });

  it('variant cases, enum values and units', () => {
    expect(hoverExample('deepseek-v3.moe', v3, 'attention mla', 11)).toContain('multi-head latent attention');
    expect(hoverExample('deepseek-v3.moe', v3, '= sigmoid', 3)).toContain('`sigmoid`: a value of `score`');
    expect(hoverExample('deepseek-v3.moe', v3, 'bias {', 1)).toContain('auxiliary-loss-free balancing');
    expect(hoverExample('deepseek-v3.moe', v3, '80GiB', 3)).toBe('`GiB` = 1,073,741,824 bytes (a unit of bytes)');
    expect(hoverExample('deepseek-v3.moe', v3, '2000 steps', 6)).toBe('`steps`: a unit of steps');
  });

  it('a block kind keyword shows what the block is', () => {
    expect(hoverExample('deepseek-v3.moe', v3, 'cluster h800', 1)).toContain('the hardware a parallel plan is checked against');
  });
});

describe('hover elsewhere', () => {
  it('a const shows its folded value, at its declaration and where it is used', () => {
    expect(hoverExample('r1-tiny.moe', tiny, 'const D', 6)).toContain('value: `32`');
    const used = hoverExample('r1-tiny.moe', tiny, '4 * D', 4);
    expect(used).toContain('const D = 32');
  });

  it('a reward rule and a rule kind', () => {
    expect(hoverExample('r1-tiny.moe', tiny, 'accuracy 0.7', 1)).toContain('reward rule `accuracy`, weight 0.7');
    expect(hoverExample('r1-tiny.moe', tiny, '= regex', 3)).toContain('format: 1 on a match');
    // a kind the example does not use any more
    expect(hoverMarked('reward r { brevity 1 = len¦gth { target = 48 tokens, max = 96 tokens } }')).toContain('rewards completions near the target length');
  });

  it('a stage reached through `from` names its model', () => {
    expect(hoverExample('r1-tiny.moe', tiny, 'grpo reason', 6)).toContain('model: `R1Tiny` (through `from`)');
  });

  it('a field read by name, and a qualified field', () => {
    const spec = 'model T { vocab = 300, dim = 64, layers = 1, context = 8\n attention mha { heads = 4 }\n layers 0..0 { ffn swiglu { hidden = 4 * d¦im } } }';
    expect(hoverMarked(spec)).toContain('value here: `64`');
    const qualified = 'model T { vocab = 300, dim = 64, layers = 1, context = 8\n attention mha { heads = 4 }\n layers 0..0 { ffn swiglu { hidden = 4 * T.d¦im } } }';
    expect(hoverMarked(qualified)).toContain('T.dim: whole number');
  });

  it('a diagnostic under the cursor adds its long explanation', () => {
    const md = hoverMarked('cluster c { devices = 8, mem¦roy = 80GiB }');
    expect(md).toContain('**MOE2009** (`moe explain MOE2009`)');
  });

  it('nothing on blank space or in comments', () => {
    const { text, offset } = cursor('// a comment about mo¦del\ncluster c { devices = 8, memory = 80GiB }');
    expect(hover(analyzeText(text), offset)).toBeUndefined();
    expect(hover(analyzeText('cluster c { devices = 8 }    '), 27)).toBeUndefined();
  });
});
