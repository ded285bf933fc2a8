/** A grpo stage's context for tests: the stage `rl` of a lowered in-memory spec, on the cpu backend, in a fresh run folder. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GraphDocument } from '../../../ir/types.js';
import { openRunFolder } from '../../../runtime/run/run-folder.js';
import type { StageContext } from '../../../runtime/stages/stage-runner.js';

/** The tests' grpo spec: a 2-layer GQA model (one MoE layer) learning short answers; `parallel` adds a parallel block to the stage. */
export const grpoSpec = (parallel = ''): string => `model Mini {
  vocab = 260, dim = 16, layers = 2, context = 64
  init { std = 0.05 }
  attention gqa { heads = 2, kv_heads = 1 }
  layers 0..0 { ffn swiglu { hidden = 16 } }
  layers 1..1 { moe { experts = 4, hidden = 8, top_k = 2 } }
}
tokenizer bytes { kind = byte }
data questions { synthetic = arithmetic { samples = 20, style = plain, seed = 2 } }
reward short { short 1.0 = length { target = 4 tokens, max = 12 tokens } }
grpo rl {
  model = Mini, prompts = questions, reward = short, tokenizer = bytes
  group = 4, batch = 2 prompts, steps = 2, max_new_tokens = 10, kl = 0.1, loss = dapo
  optimizer adamw { lr = 1e-2 }
  seed = 5
  ${parallel}
}
`;

/** A new, empty run folder (opened once, so a resume finds it moe's). */
export function grpoRunDir(prefix = 'moe-grpo-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  openRunFolder(dir, () => undefined).release();
  return dir;
}

export function grpoContext(doc: GraphDocument, runDir: string, resume = false, maxSteps?: number): StageContext {
  return {
    document: doc,
    specDir: '/mem',
    stage: doc.plan.stages.find((s) => s.name === 'rl')!,
    runDir,
    fromCheckpoint: undefined,
    loadInitial: () => undefined,
    backend: 'cpu',
    resume,
    maxSteps,
    progress: { write: () => undefined, tty: false },
    log: () => undefined,
  };
}
