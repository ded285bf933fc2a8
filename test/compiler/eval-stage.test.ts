/**
 * The `eval` stage kind in the checker and the lowering: a well-formed one is accepted and lowered
 * with its answer rule resolved (the reward's one `answer` rule when the spec names none); an
 * unknown rule name, a reward without exactly one answer rule, or missing prompts are coded
 * diagnostics at the offending text.
 */
import { describe, expect, it } from 'vitest';
import { lowerSpec } from '../../compiler/lower/index.js';
import { validateGraph } from '../../ir/validate.js';
import { checkText } from '../helpers.js';

const BASE = `model Tiny {
  vocab = 320, dim = 32, layers = 1, context = 128
  attention gqa { heads = 2, kv_heads = 1 }
  layers 0..0 { ffn swiglu { hidden = 64 } }
}
tokenizer bytes { kind = byte }
data corpus { synthetic = arithmetic { samples = 50 } }
data heldout { synthetic = arithmetic { samples = 4, style = plain, seed = 9 } }
reward r1 {
  accuracy 0.7 = answer { compare = numeric }
  format   0.3 = regex  { pattern = r"<answer>" }
}
reward formats {
  tags  0.5 = regex { pattern = r"<answer>" }
  think 0.5 = regex { pattern = r"<think>" }
}
pretrain base {
  model = Tiny, data = corpus, tokenizer = bytes
  seq_len = 32, batch = 4 sequences, steps = 2
}
`;

/** The diagnostics as code and the source text each one points at. */
function found(text: string): [string, string][] {
  return checkText(text).diagnostics.map((d) => [d.code, text.slice(d.span.start, d.span.end)]);
}

describe('the eval stage', () => {
  it('is accepted and lowered with its answer rule: the reward\'s one answer rule, or the one named', () => {
    const text = `${BASE}
eval judged { from = base, prompts = heldout, reward = r1, max_new_tokens = 8 }
eval formatted { from = base, prompts = heldout, reward = r1, answer = format, n = 3, temperature = 0.5 }
pipeline all { base -> judged -> formatted }
`;
    const checked = checkText(text);
    expect(checked.diagnostics).toEqual([]);
    const doc = lowerSpec(checked, '/mem');
    expect(validateGraph(doc)).toEqual([]);
    const judged = doc.plan.stages.find((s) => s.name === 'judged')!;
    expect(judged.kind).toBe('eval');
    expect(judged.from).toEqual({ stage: 'base' });
    expect(judged.model).toBe('Tiny');
    expect(judged.after).toEqual(['base']);
    expect(judged.hyper).toMatchObject({ answer: 'accuracy', n: 1, temperature: 0, reward: 'r1', prompts: 'heldout', tokenizer: 'bytes', max_new_tokens: 8 });
    const formatted = doc.plan.stages.find((s) => s.name === 'formatted')!;
    expect(formatted.hyper).toMatchObject({ answer: 'format', n: 3, temperature: 0.5 });
  });

  it('refuses an answer rule the reward does not have, at the name, with a did-you-mean', () => {
    const text = `${BASE}eval e { from = base, prompts = heldout, reward = r1, answer = acuracy }\n`;
    expect(found(text)).toEqual([['MOE6014', 'acuracy']]);
    const d = checkText(text).diagnostics[0]!;
    expect(d.message).toBe('eval stage `e`: reward `r1` has no rule `acuracy`');
    expect(d.help).toBe('did you mean `accuracy`?');
  });

  it('refuses a reward without an answer rule when none is named, at the reward; naming one of its rules is fine', () => {
    expect(found(`${BASE}eval e { from = base, prompts = heldout, reward = formats }\n`)).toEqual([['MOE6014', 'formats']]);
    expect(found(`${BASE}eval e { from = base, prompts = heldout, reward = formats, answer = think }\n`)).toEqual([]);
  });

  it('refuses an eval stage without prompts or reward, and a stage starting from an eval stage', () => {
    expect(found(`${BASE}eval e { from = base, reward = r1 }\n`)).toEqual([['MOE6009', 'e']]);
    expect(found(`${BASE}eval e { from = base, prompts = heldout }\n`)).toEqual([['MOE2010', 'e']]);
    // an eval stage leaves no checkpoint: nothing starts from it
    const text = `${BASE}eval e { from = base, prompts = heldout, reward = r1 }\nsft after { from = e, data = corpus, seq_len = 32, steps = 1 }\n`;
    expect(found(text)).toEqual([['MOE2013', 'e']]);
    expect(checkText(text).diagnostics[0]!.message).toBe('`e` is an eval, but `from` needs a pretrain or sft or grpo or sample block');
  });
});
