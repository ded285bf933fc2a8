/**
 * The `generate` stage: completions of the stage's `prompt` (or every record of its `prompts` set)
 * from the `from` policy, written to `generations.jsonl` and shown in the run summary.
 */
import { join } from 'node:path';
import { RuntimeError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { generationStage, promptRecords } from './generation.js';
import { claimEntry } from '../run/ownership.js';
import type { StageContext, StageOutcome } from './stage-runner.js';
import { generate } from '../infer/generate.js';
import { stageDecoding } from './decode-source.js';
import { promptIds, textOptions } from '../infer/text.js';

const GENERATIONS_FILE = 'generations.jsonl';

export async function generateRunner(ctx: StageContext): Promise<StageOutcome> {
  // listed as ours before anything is generated or written: a generations.jsonl of the user's is refused, never replaced
  claimEntry(ctx.runDir, GENERATIONS_FILE);
  const stage = generationStage(ctx.document, ctx.stage, ctx.specDir);
  const single = ctx.stage.hyper.prompt;
  const records = typeof single === 'string' ? [{ prompt: single, completion: '' }] : promptRecords(ctx.document, ctx.stage, ctx.specDir);
  const policy = ctx.loadInitial();
  if (!policy) throw new RuntimeError(`generate stage ${ctx.stage.name} has no model`, 'set `from = STAGE` (or a checkpoint path)');
  const { tokenizer } = stage;
  let completions;
  const decoding = await stageDecoding(ctx, stage.model, policy);
  try {
    completions = await generate(stage.model, decoding.source, records.map((r) => promptIds(r.prompt, tokenizer)), {
      maxNewTokens: stage.maxNewTokens,
      sampling: stage.sampling,
      seed: stage.seed,
      batchSize: 32,
      ...textOptions(tokenizer, stage.stop),
    });
  } finally {
    decoding.dispose();
    policy.dispose();
  }
  const rows = completions.map((c, i) => ({ ...records[i], completion: tokenizer.decode(c.ids), ids: c.ids, finish: c.finish }));
  const path = join(ctx.runDir, GENERATIONS_FILE);
  writeFileAtomic(path, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const shown = rows.slice(0, 3).map((r) => `${JSON.stringify(r.prompt)} → ${JSON.stringify(r.completion)}`);
  return { outputs: [path], summary: rows.length > 3 ? [...shown, `… ${rows.length - 3} more in ${GENERATIONS_FILE}`] : shown };
}
