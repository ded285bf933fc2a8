/**
 * Bad input never crashes the front-end: mutants of the examples (deleted spans, swapped tokens,
 * random bytes, huge numbers, deep nesting) and degenerate files (empty, binary, 10 MB) always
 * end in diagnostics — every one coded and positioned inside its file — never an exception.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkFile } from '../compiler/check/index.js';
import { isCode } from '../compiler/diagnostics/catalog.js';
import { memoryHost, runCli } from './helpers.js';
import { mutations } from './mutations.js';

const examplesDir = join(import.meta.dirname, '..', 'examples');
const examples = readdirSync(examplesDir)
  .filter((f) => f.endsWith('.moe'))
  .map((f) => readFileSync(join(examplesDir, f), 'utf8'));
// data files the examples read, so mutants fail for the mutation and not for a missing file
const support = { 'data/corpus.txt': 'text\n' };

function checkBytes(content: string | Uint8Array): { exit: number; ok: boolean; errors: number } {
  const host = memoryHost({ 'spec.moe': content, ...support });
  const result = checkFile('/mem/spec.moe', host);
  const size = typeof content === 'string' ? content.length : content.length;
  for (const d of result.diagnostics) {
    expect(isCode(d.code)).toBe(true);
    expect(d.span.start).toBeGreaterThanOrEqual(0);
    expect(d.span.end).toBeGreaterThanOrEqual(d.span.start);
    if (d.span.file === '/mem/spec.moe') expect(d.span.end).toBeLessThanOrEqual(Math.max(1, size));
  }
  const exit = result.errorCount > 0 ? 1 : 0;
  return { exit, ok: true, errors: result.errorCount };
}

const { example, deleteSpan, swapTokens, insertJunk } = mutations(examples);

const hugeNumber = fc.tuple(example, fc.constantFrom('1e999', '9'.repeat(400), '1e308 * 1e308', '0.0000001', '-1', '1/0', '4_0_9_6T'))
  .map(([text, n]) => text.replace(/= \d[\d_]*/, `= ${n}`));

describe('fuzzing the front-end with mutated examples', () => {
  for (const [name, arb] of [
    ['deleted spans', deleteSpan],
    ['swapped tokens', swapTokens],
    ['random bytes', insertJunk],
    ['huge and invalid numbers', hugeNumber],
  ] as const) {
    it(`${name}: no crash; every diagnostic coded and inside the file`, () => {
      let broken = 0;
      fc.assert(
        fc.property(arb, (text) => {
          const { exit } = checkBytes(text);
          if (exit === 1) broken++;
        }),
        { numRuns: 150, seed: 20261122 },
      );
      // most mutants really are broken, so the assertions above were exercised on errors
      expect(broken).toBeGreaterThan(50);
    });
  }

  it('deep nesting is refused with a diagnostic, not a stack overflow', () => {
    for (const depth of [65, 1000, 100_000]) {
      const text = `model M { x = ${'['.repeat(depth)}1${']'.repeat(depth)} }`;
      expect(checkBytes(text).exit).toBe(1);
      const unclosed = `model M { x = ${'('.repeat(depth)}`;
      expect(checkBytes(unclosed).exit).toBe(1);
      const minus = `const A = ${'-'.repeat(depth)}1`;
      expect(checkBytes(minus).exit).toBe(1);
      const chain = `const A = ${'1 + '.repeat(depth)}1`;
      expect(() => checkBytes(chain)).not.toThrow();
    }
  });

  it('an empty file, a binary file and invalid UTF-8 are errors', () => {
    expect(checkBytes('').exit).toBe(1);
    expect(checkBytes(new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 3])).exit).toBe(1);
    expect(checkBytes(new Uint8Array([0x6d, 0x6f, 0xff, 0xfe, 0x20])).exit).toBe(1);
  });
});

describe('fuzzing the command line with big files', () => {
  it('a 10 MB file exits 1 with a coded diagnostic', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moe-fuzz-'));
    writeFileSync(join(dir, 'big.moe'), examples[0]!.repeat(Math.ceil(10e6 / examples[0]!.length)));
    const r = await runCli(['check', '--json', 'big.moe'], dir);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { files: { diagnostics: { code: string; line: number }[] }[] };
    expect(out.files[0]!.diagnostics[0]!.code).toBe('MOE1007');
    expect(out.files[0]!.diagnostics[0]!.line).toBe(1);
  });

  it('a large but legal file (10k consts) is checked', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moe-fuzz-'));
    const consts = Array.from({ length: 10_000 }, (_, i) => `const C${i} = ${i} * 2`).join('\n');
    writeFileSync(join(dir, 'many.moe'), `${consts}\ncluster c { devices = C9999 / 2 - C1 - C2, memory = 1GiB }\n`);
    const r = await runCli(['check', '--json', 'many.moe'], dir);
    const out = JSON.parse(r.stdout) as { files: { diagnostics: { code: string }[] }[] };
    // every const but the three read is unused (a warning): the display is capped, the run is clean
    const shown = out.files[0]!.diagnostics;
    expect(shown.filter((d) => d.code === 'MOE2016')).toHaveLength(500);
    expect(shown[shown.length - 1]!.code).toBe('MOE7001');
    expect(r.code).toBe(0);
  });
});
