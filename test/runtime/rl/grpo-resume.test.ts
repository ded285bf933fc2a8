/**
 * GRPO resumes exactly: a run stopped after its first step and resumed from its checkpoint (policy,
 * optimizer moments, prompt order) logs the same second step as an uninterrupted run, on the cpu
 * backend; and without `from`, the reference is the seeded initialisation, so KL starts at 0.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { GraphDocument } from '../../../ir/types.js';
import { lowerSpec } from '../../../compiler/lower/index.js';
import { grpoRunner } from '../../../runtime/stages/grpo.js';
import { readMetrics } from '../../../runtime/run/metrics.js';
import { checkText } from '../../helpers.js';
import { useCpu } from '../gradcheck.js';
import { grpoContext, grpoRunDir } from '../stages/grpo-context.js';

const SPEC = `model Mini {
  vocab = 260, dim = 16, layers = 2, context = 64
  init { std = 0.05 }
  attention mla { heads = 2, kv_rank = 8, nope_dim = 4, rope_dim = 4, v_dim = 4 }
  layers 0..1 { moe { experts = 4, shared = 1, hidden = 8, top_k = 2, router { score = sigmoid } } }
}
tokenizer bytes { kind = byte }
data questions { synthetic = arithmetic { samples = 20, style = plain, seed = 2 } }
reward mixed {
  format 0.5 = regex { pattern = r"^[0-9]" }
  short 0.5 = length { target = 4 tokens, max = 12 tokens }
}
grpo rl {
  model = Mini, prompts = questions, reward = mixed, tokenizer = bytes
  group = 4, batch = 2 prompts, steps = 2, max_new_tokens = 12
  optimizer adamw { lr = 1e-2 }
  checkpoint { every = 1 steps, keep = 3 }
  seed = 5
}
`;

function document(): GraphDocument {
  const checked = checkText(SPEC);
  expect(checked.diagnostics).toEqual([]);
  return lowerSpec(checked, '/mem');
}

// a fresh run folder of ours, as `moe run` opens every stage's folder before its runner starts
const runDir = (): string => grpoRunDir();
const context = grpoContext;

describe('GRPO checkpoints', () => {
  beforeAll(useCpu);

  it('resumes after step 1 with the uninterrupted run\'s step 2', { timeout: 120_000 }, async () => {
    const doc = document();
    const whole = runDir();
    const outcome = await grpoRunner(context(doc, whole, false));
    expect(outcome.checkpoint).toBe(join(whole, 'checkpoint-2'));
    const reference = readMetrics(whole);
    expect(reference.map((m) => m.step)).toEqual([1, 2]);
    expect(reference[0]!.kl).toBeLessThan(1e-6);

    const split = runDir();
    await grpoRunner(context(doc, split, false, 1));
    await grpoRunner(context(doc, split, true));
    const resumed = readMetrics(split);
    expect(resumed.map((m) => m.step)).toEqual([1, 2]);
    for (const key of ['loss', 'reward', 'kl', 'grad_norm', 'completion_length', 'best_completion']) {
      expect(resumed[1]![key]).toEqual(reference[1]![key]);
    }
  });
});
