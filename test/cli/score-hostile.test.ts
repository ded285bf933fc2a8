/**
 * The hostile-program corpus (test/fixtures/hostile/corpus.ts) through `moe score`, in-process:
 * nothing is written and nothing spawned (the canary folder the attacks target stays empty), each
 * program scores what its tests say, and a correct program scored right after each one, by the
 * same scorer, scores 1.
 */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CORPUS, GOOD } from '../fixtures/hostile/corpus.js';
import { runCli } from '../helpers.js';

const spec = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/hostile/code.moe');

interface Scored {
  readonly line: number;
  readonly total: number;
  readonly scores: Record<string, number>;
  readonly problems: { rule: string; reason: string }[];
}

describe('moe score on hostile programs', () => {
  it('lets none escape, scores each by its tests, and scores a correct program after each 1', { timeout: 120_000 }, async () => {
    const root = mkdtempSync(join(tmpdir(), 'moe-hostile-'));
    const canary = join(root, 'canary');
    const rows = CORPUS.flatMap((h) => [
      { completion: h.completion.replaceAll('CANARY', canary), tests: h.tests },
      { completion: GOOD.completion, tests: GOOD.tests },
    ]);
    writeFileSync(join(root, 'rows.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n'));
    const r = await runCli(['score', spec, 'code', '--input', 'rows.jsonl', '--json'], root);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Scored);
    expect(out.map((o) => o.line)).toEqual(rows.map((_, i) => i + 1));
    CORPUS.forEach((h, i) => {
      const bad = out[2 * i]!;
      const after = out[2 * i + 1]!;
      expect({ name: h.name, score: bad.scores['pass'] }).toEqual({ name: h.name, score: h.score });
      expect(bad.total).toBeCloseTo(h.score);
      if (h.reason) expect({ name: h.name, reason: bad.problems[0]?.reason }).toEqual({ name: h.name, reason: expect.stringMatching(h.reason) });
      expect({ name: h.name, after }).toEqual({ name: h.name, after: { line: 2 * i + 2, total: 1, scores: { pass: 1 }, problems: [] } });
    });
    // the attacks aimed at CANARY/written (fs) and CANARY/spawned (a child process)
    expect(readdirSync(root)).toEqual(['rows.jsonl']);
  });
});
