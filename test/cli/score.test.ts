/** `moe score`: scores rows with a spec's reward; clear errors with file:line for bad rows. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers.js';

const spec = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/hostile/code.moe');

function input(lines: string[]): string {
  const root = mkdtempSync(join(tmpdir(), 'moe-score-'));
  writeFileSync(join(root, 'rows.jsonl'), lines.join('\n'));
  return root;
}

describe('moe score', () => {
  it('prints one JSON object per row, in order, with the total, each rule and the problems', { timeout: 30_000 }, async () => {
    const root = input([
      JSON.stringify({ completion: '<answer>5</answer>\n```js\nconst f = () => 5;\n```', answer: '5', tests: ['f() === 5'], tokens: 4 }),
      '',
      JSON.stringify({ completion: 'function f() {}', answer: '5', tests: ['f()'], tokens: 6 }),
    ]);
    const r = await runCli(['score', spec, 'mixed', '--input', 'rows.jsonl', '--json'], root);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual([
      { line: 1, total: 1, scores: { pass: 1, answer: 1, brevity: 1 }, problems: [] },
      {
        line: 3,
        total: expect.closeTo(0.5 / 3, 9),
        scores: { pass: 0, answer: 0, brevity: 0.5 },
        problems: [{ rule: 'pass', reason: 'test 1 gave undefined, not true (a test of statements must call assert)' }],
      },
    ]);
  });

  it('scores one --completion with --sample as a table', { timeout: 30_000 }, async () => {
    const r = await runCli(['score', spec, 'code', '--completion', 'const isPrime = (n) => n === 7;', '--sample', '{"tests": ["isPrime(7)", "assert(!isPrime(8))"]}'], input([]));
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]!.trim().split(/\s+/)).toEqual(['line', 'total', 'pass']);
    expect(r.stdout.split('\n')[1]!.trim().split(/\s+/)).toEqual(['-', '1', '1']);
  });

  it('scores the js fence of a completion that trails 256 KiB of backticks (the old fence regex took 114 s)', { timeout: 30_000 }, async () => {
    const completion = `\`\`\`js\nconst f = () => 5;\n\`\`\`\n${'`'.repeat(256 * 1024)}`;
    const root = input([JSON.stringify({ completion, tests: ['f() === 5'], tokens: 4 })]);
    const r = await runCli(['score', spec, 'code', '--input', 'rows.jsonl', '--json'], root);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ line: 1, total: 1, scores: { pass: 1 }, problems: [] });
  });

  it.each([
    [['{"completion": "x"', '{"completion": "x"}'], /^error: rows.jsonl:1: not JSON/],
    [['{"completion": "x"}', '[1]'], /^error: rows.jsonl:2: a row should be a JSON object/],
    [['{"answer": "5"}'], /^error: rows.jsonl:1: the row has no string `completion`/],
    [['{"completion": "x", "tokens": -1}'], /^error: rows.jsonl:1: `tokens` should be a whole number/],
  ])('refuses bad rows with file:line and exit 1 (%j)', async (lines, message) => {
    const r = await runCli(['score', spec, 'code', '--input', 'rows.jsonl'], input(lines));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });

  it.each([
    [['score', spec, 'code'], /exactly one of --input/],
    [['score', spec, 'code', '--input', 'rows.jsonl', '--completion', 'x'], /exactly one of --input/],
    [['score', spec, 'code', '--input', 'missing.jsonl'], /no such file: missing.jsonl/],
    [['score', spec, 'code', '--completion', 'x', '--sample', '[1]'], /--sample takes a JSON object/],
    [['score', spec, 'nope', '--completion', 'x'], /has no reward `nope`; its rewards: code, mixed/],
  ])('refuses bad usage with exit 2 (%j)', async (args, message) => {
    const r = await runCli(args, input(['{"completion": "x"}']));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
