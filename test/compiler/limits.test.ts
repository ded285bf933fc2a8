/**
 * Issue 17, item 10: every number that sizes work has a finite bound, reported as MOE3004 at its
 * span before anything is built. On 557c2c5 `layers = 1000000000` took `moe check` down with a V8
 * fatal error (exit 133), `samples = 1e9` checked clean and then exhausted the heap, and a test
 * timeout of 1000 h checked clean and overflowed Node's timer.
 */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkText, exampleData, exampleSpec, runCli } from '../helpers.js';

/** the sizing numbers are edited in the DeepSeek-shaped tiny model (MLA, 4 layers, 8 experts) … */
const tiny = exampleSpec('deepseek-tiny.moe');
/** … and the reward's in the R1 recipe, checked next to the data files it reads */
const r1 = exampleSpec('r1-tiny.moe');
const data = exampleData();

function withReplaced(spec: string, from: string, to: string): string {
  expect(spec).toContain(from);
  return spec.replace(from, to);
}

describe('bounds on sizing numbers', () => {
  it('refuses layers = 1e9 with MOE3004 at the value, and `moe check` exits 1', async () => {
    const text = withReplaced(tiny, 'layers  = 4', 'layers  = 1000000000');
    const result = checkText(text);
    const bound = result.diagnostics.find((d) => d.code === 'MOE3004');
    expect(bound?.message).toBe('`layers` must be in [1, 10000], found 1000000000');
    expect(text.slice(bound!.span.start, bound!.span.end)).toBe('1000000000');

    const dir = mkdtempSync(join(tmpdir(), 'moe-limits-'));
    writeFileSync(join(dir, 'big.moe'), text);
    const cli = await runCli(['check', join(dir, 'big.moe')]);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain('error[MOE3004]');
  });

  it('refuses a layer range reaching a billion without allocating per layer', () => {
    const result = checkText(withReplaced(tiny, 'layers  = 4', 'layers  = 1000000000').replace('layers 1..3', 'layers 1..999999999'));
    expect(result.diagnostics.map((d) => d.code)).toContain('MOE3004');
  });

  it('refuses samples = 1e9 (every generated problem is held in memory)', () => {
    // no example generates its data any more: a synthetic data set next to the tiny model
    const result = checkText(`${tiny}\ndata arith { synthetic = arithmetic { samples = 1e9, style = r1 } }\n`);
    expect(result.diagnostics.map((d) => d.message)).toContain('`samples` must be in [1, 1000000], found 1000000000');
  });

  it('refuses a tests timeout of 1000 h (Node timers overflow past 2^31 − 1 ms) and a huge sandbox memory', () => {
    const text = withReplaced(r1, 'reward r1 {', 'reward r1 {\n  run 0 = tests { timeout = 1000h, memory = 1TiB }');
    const messages = checkText(text, data).diagnostics.filter((d) => d.code === 'MOE3004').map((d) => d.message);
    expect(messages).toContain('`timeout` must be in (0, 3600] seconds, found 3600000 seconds');
    expect(messages).toContain('`memory` must be in (0, 17179869184] bytes, found 1099511627776 bytes');
  });

  it('bounds the other model sizing numbers too: vocab, dim, experts, heads', () => {
    const replacements: [string, string, string][] = [
      ['vocab   = 320', 'vocab   = 1e12', '`vocab`'],
      ['dim     = D', 'dim     = 1e9', '`dim`'],
      ['experts = 8', 'experts = 1e9', '`experts`'],
      ['heads    = 4', 'heads    = 1e9', '`heads`'],
    ];
    for (const [from, to, field] of replacements) {
      const messages = checkText(withReplaced(tiny, from, to)).diagnostics.filter((d) => d.code === 'MOE3004').map((d) => d.message);
      expect(messages.some((m) => m.startsWith(`${field} must be`)), `${to}: ${messages.join('; ')}`).toBe(true);
    }
  });

  it('still accepts every example', () => {
    const examples = readdirSync(new URL('../../examples', import.meta.url)).filter((f) => f.endsWith('.moe'));
    expect(examples).toContain('r1-tiny.moe');
    for (const name of examples) {
      expect(checkText(exampleSpec(name), data).diagnostics.filter((d) => d.severity === 'error'), name).toEqual([]);
    }
  });
});
