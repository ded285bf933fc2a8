/**
 * The structure of the README's main job (examples/r1-tiny.moe, issue 22): every training stage
 * of the R1 recipe is followed by an eval stage of it on the same held-out prompts, which no
 * training stage sees; the final SFT trains on the rejection-sampling stage; the data files are
 * exactly what their committed generator writes. (How well it learns is measured by running it:
 * the README's table; examples-train.test.ts runs it through GRPO.)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeHost } from '../../compiler/bind/node-host.js';
import { checkFile } from '../../compiler/check/index.js';
import { lowerSpec } from '../../compiler/lower/index.js';
import { selectStages } from '../../runtime/stages/targets.js';

const repo = join(import.meta.dirname, '..', '..');
const spec = join(repo, 'examples', 'r1-tiny.moe');
const dataDir = join(repo, 'examples', 'data', 'r1-tiny');

const checked = checkFile(spec, nodeHost);
const plan = lowerSpec(checked, repo).plan;
const stage = (name: string) => plan.stages.find((s) => s.name === name)!;
const rows = (file: string): { prompt: string }[] =>
  readFileSync(join(dataDir, file), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { prompt: string });

describe('examples/r1-tiny.moe: the R1 recipe', () => {
  it('checks clean', () => {
    expect(checked.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([]);
  });

  it('runs pretrain → cold SFT → GRPO → rejection sampling → SFT, an eval after each training stage but pretraining', () => {
    const { order } = selectStages(plan, spec);
    const kinds = order.map((name) => stage(name).kind);
    expect(kinds).toEqual(['pretrain', 'sft', 'eval', 'grpo', 'eval', 'sample', 'sft', 'eval', 'generate']);
    // each eval comes right after the stage it evaluates, and asks the same prompts with the same reward
    const evals = order.filter((name) => stage(name).kind === 'eval');
    for (const name of evals) {
      const before = order[order.indexOf(name) - 1]!;
      expect(stage(name).from, name).toEqual({ stage: before });
    }
    expect(evals.map((name) => [stage(name).hyper.prompts, stage(name).hyper.reward])).toEqual(evals.map(() => ['held_out', 'r1']));
    expect(stage('final').hyper.data).toEqual({ stage: 'rs' });
    expect(stage('final').hyper.steps).toBeGreaterThanOrEqual(20);
  });

  it('holds the eval prompts out of every training stage', () => {
    const held = new Set(rows('eval.jsonl').map((r) => r.prompt));
    expect(held.size).toBe(128);
    for (const file of readdirSync(dataDir).filter((f) => f !== 'eval.jsonl')) {
      const seen = readFileSync(join(dataDir, file), 'utf8');
      for (const prompt of held) expect(seen.includes(prompt), `${prompt} in ${file}`).toBe(false);
    }
  });

  it('has data files exactly as examples/data/make-r1-tiny.mjs writes them', () => {
    const out = mkdtempSync(join(tmpdir(), 'moe-r1-tiny-data-'));
    execFileSync(process.execPath, [join(repo, 'examples', 'data', 'make-r1-tiny.mjs'), out]);
    const files = readdirSync(dataDir).sort();
    expect(readdirSync(out).sort()).toEqual(files);
    for (const file of files) expect(readFileSync(join(out, file), 'utf8'), file).toBe(readFileSync(join(dataDir, file), 'utf8'));
  });
});
