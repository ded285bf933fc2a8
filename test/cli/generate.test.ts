/**
 * `moe generate`: a streamed completion equals the JSON one, JSONL prompts in give JSONL out with the
 * records' fields kept, the spec's tokenizer is found from the checkpoint, bad usage is refused with
 * exit 2 and a bad prompts file with file:line and exit 1, and a folder as -o before anything runs.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers.js';

const repo = join(import.meta.dirname, '..', '..');

describe('moe generate', () => {
  let dir: string;
  let checkpoint: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'moe-generate-'));
    checkpoint = join(dir, 'ck');
    expect((await runCli(['init', 'examples/r1-tiny.moe', '-o', checkpoint, '--seed', '5'], repo)).code).toBe(0);
  });

  const cpu = ['--backend', 'cpu'];

  it('streams the same text it returns as JSON, and only byte-tokenizer ids', async () => {
    const args = ['generate', checkpoint, '--prompt', 'What is 12+30?', '--max-new-tokens', '12', '--temperature', '1', '--seed', '4', ...cpu];
    const json = await runCli([...args, '--json'], repo);
    expect(json.code).toBe(0);
    const result = JSON.parse(json.stdout) as { ids: number[]; text: string; finish: string };
    // r1-tiny's vocab is 320 but its byte tokenizer has 259 ids: the rest are never sampled
    expect(result.ids.every((id) => id < 259)).toBe(true);
    expect(result.ids.length === 12 || result.finish === 'eos').toBe(true);
    const streamed = await runCli(args, repo);
    expect(streamed.code).toBe(0);
    expect(streamed.stdout).toBe(`${result.text}\n`);
    expect(streamed.stderr).toMatch(/\[\d+ tokens, finish: (length|eos)\]/);
  });

  it('is greedy by default and deterministic', async () => {
    const args = ['generate', checkpoint, '--ids', '87,104,97,116', '--max-new-tokens', '6', '--json', ...cpu];
    const a = JSON.parse((await runCli(args, repo)).stdout) as { ids: number[] };
    const b = JSON.parse((await runCli([...args, '--cache', 'naive'], repo)).stdout) as { ids: number[] };
    expect(a.ids.length).toBeGreaterThan(0);
    expect(b.ids).toEqual(a.ids);
  });

  it('reads JSONL prompts and writes one JSON line per prompt with the record kept', async () => {
    const prompts = join(dir, 'prompts.jsonl');
    writeFileSync(prompts, '{"prompt": "1+1=", "answer": "2"}\n\n{"prompt": "What is 7+5?", "answer": "12"}\n{"ids": [72, 105]}\n');
    const out = join(dir, 'out.jsonl');
    const r = await runCli(['generate', checkpoint, '--prompts', prompts, '-o', out, '--max-new-tokens', '4', '--batch', '2', ...cpu], repo);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('wrote 3 completions');
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.answer)).toEqual(['2', '12', undefined]);
    expect(lines.every((l) => typeof l.completion === 'string' && Array.isArray(l.ids) && typeof l.finish === 'string')).toBe(true);
    // each line is what that prompt gets alone (greedy, batching does not change it)
    const alone = JSON.parse((await runCli(['generate', checkpoint, '--prompt', 'What is 7+5?', '--max-new-tokens', '4', '--json', ...cpu], repo)).stdout) as { ids: number[] };
    expect(lines[1]!.ids).toEqual(alone.ids);
  });

  it('refuses a folder as -o before generating and leaves nothing beside it; writes a single prompt\'s result to an -o file', async () => {
    const out = mkdtempSync(join(tmpdir(), 'moe-generate-out-'));
    const before = readdirSync(dirname(out)).filter((n) => n.startsWith(basename(out))).sort();
    const r = await runCli(['generate', checkpoint, '--prompt', 'a', '-o', out, ...cpu], repo);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: -o .* is a folder; moe generate writes one JSONL file: name it, e.g. -o .*generations\.jsonl$/m);
    expect(r.stderr).not.toContain('internal error');
    expect(readdirSync(dirname(out)).filter((n) => n.startsWith(basename(out)) || n.includes(`${basename(out)}.tmp`)).sort()).toEqual(before);
    expect(readdirSync(out)).toEqual([]);

    const file = join(out, 'generations.jsonl');
    const written = await runCli(['generate', checkpoint, '--prompt', 'a', '--max-new-tokens', '3', '-o', file, ...cpu], repo);
    expect(written.code).toBe(0);
    // not streamed to stdout and dropped: the file holds the result
    expect(written.stdout).toBe('');
    const result = JSON.parse(readFileSync(file, 'utf8')) as { ids: number[]; finish: string };
    expect(result.ids.length === 3 || result.finish === 'eos').toBe(true);
  });

  it('refuses bad input with a message and exit 2', async () => {
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"prompt": "ok"}\n{"question": "no prompt field"}\n');
    const cases: [string[], RegExp][] = [
      [['generate', checkpoint], /exactly one of --prompt/],
      [['generate', checkpoint, '--prompt', 'a', '--ids', '1'], /exactly one of --prompt/],
      [['generate', checkpoint, '--prompt', 'a', '--temperature', 'hot'], /--temperature takes a number, found `hot`/],
      [['generate', checkpoint, '--prompt', 'a', '--cache', 'big'], /--cache takes latent or naive/],
      // bounded like a stage's max_new_tokens (compiler/schema/limits.ts), before the checkpoint is loaded
      [['generate', checkpoint, '--prompt', 'a', '--max-new-tokens', '16777217'], /^error: --max-new-tokens takes a whole number from 1 to 16777216 \(the bound of a stage's max_new_tokens\), found `16777217`$/m],
      [['generate', checkpoint, '--prompt', 'a', '--max-new-tokens', '1e300'], /--max-new-tokens takes a whole number from 1 to 16777216/],
      [['generate', checkpoint, '--prompt', 'a', '--max-new-tokens', '2.5'], /--max-new-tokens takes a whole number/],
      [['generate', checkpoint, '--prompt', 'a', '--max-new-tokens', '0'], /--max-new-tokens takes a whole number/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli([...args, ...cpu], repo);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    // a prompts file that is not prompt records is bad data, not bad usage: exit 1 (as `moe score --input`)
    const data = await runCli(['generate', checkpoint, '--prompts', bad, ...cpu], repo);
    expect(data.code).toBe(1);
    expect(data.stderr).toMatch(/bad\.jsonl:2: expected an object with a string `prompt` field/);
    const runtime = await runCli(['generate', checkpoint, '--prompt', 'a', '--top-p', '0', ...cpu], repo);
    expect(runtime.code).toBe(1);
    expect(runtime.stderr).toContain('top_p must be in (0, 1], found 0');
  });
});
