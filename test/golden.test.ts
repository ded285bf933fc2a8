/**
 * Golden diagnostics: every `test/fixtures/**\/*.moe` (except files under a `lib/` folder, which
 * fixtures import) is checked, and
 *  - its diagnostics must equal its inline expectations: `// expect: MOE4102` on the line the
 *    diagnostic starts, `// expect@+1: MOE4102` for the next line (several codes: `MOE1 MOE2`);
 *    a file that cannot hold comments (binary) lists `LINE CODE` pairs in `NAME.moe.expect`;
 *  - its rendered text must equal the committed `NAME.stderr` baseline.
 * `UPDATE_GOLDEN=1 npx vitest run test/golden.test.ts` rewrites the baselines; review the diff.
 * A last test asserts that every code of the catalog is exercised by some fixture.
 */
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { nodeHost } from '../compiler/bind/node-host.js';
import { checkFile } from '../compiler/check/index.js';
import { catalog } from '../compiler/diagnostics/catalog.js';
import { renderText } from '../compiler/diagnostics/render.js';

const root = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const update = process.env.UPDATE_GOLDEN === '1';

/** Codes that no committed fixture can show, and the test that covers each instead. */
const COVERED_ELSEWHERE: Record<string, string> = {
  MOE1007: 'test/syntax/parse.test.ts (a file over 4 MiB is generated in the test)',
  MOE7001: 'test/compiler/diagnostics.test.ts (the error cap)',
  MOE7002: 'test/cli/compile.test.ts (an export format that cannot express the model)',
  // the data codes are raised while data is read (MOE7101 also by `moe check`): their tests write the files
  MOE7101: 'test/runtime/data/formats.test.ts and test/compiler/data-formats.test.ts (a file that is not its format)',
  MOE7102: 'test/runtime/data/formats.test.ts (a row that cannot become a record)',
  MOE7103: 'test/runtime/data/formats.test.ts (bytes that are not UTF-8)',
  MOE7104: 'test/runtime/data/formats.test.ts (SFT rows that train on nothing)',
  MOE7105: 'test/runtime/data/formats.test.ts (every SFT row trains on nothing)',
  MOE7106: 'test/runtime/data/formats.test.ts (an empty validation split)',
  MOE7107: 'test/runtime/data/formats.test.ts (a chat template that cannot be used)',
};

function fixtureFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name !== 'lib') out.push(...fixtureFiles(path));
    } else if (name.endsWith('.moe')) out.push(path);
  }
  return out;
}

function expectations(path: string): string[] {
  const sidecar = `${path}.expect`;
  if (existsSync(sidecar)) {
    return readFileSync(sidecar, 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => {
        const [line, code] = l.trim().split(/\s+/);
        return `${line} ${code}`;
      });
  }
  const out: string[] = [];
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((text, i) => {
      const m = /\/\/ expect(?:@([+-]\d+))?: ((?:MOE\d{4}\s*)+)/.exec(text);
      if (!m) return;
      const line = i + 1 + Number(m[1] ?? 0);
      for (const code of m[2]!.trim().split(/\s+/)) out.push(`${line} ${code}`);
    });
  return out;
}

const seenCodes = new Set<string>();
const files = fixtureFiles(root);

describe('golden diagnostics', () => {
  it('has fixtures', () => {
    expect(files.length).toBeGreaterThan(20);
  });

  for (const path of files) {
    const name = relative(root, path);
    it(name, () => {
      const result = checkFile(path, nodeHost);
      const actual = result.diagnostics.map((d) => {
        seenCodes.add(d.code);
        const line = result.program.sources.get(d.span.file)?.positionAt(d.span.start).line ?? 0;
        const where = d.span.file === path ? `${line}` : `${relative(root, d.span.file)}:${line}`;
        return `${where} ${d.code}`;
      });
      expect(actual.sort()).toEqual(expectations(path).sort());
      for (const d of result.diagnostics) {
        const source = result.program.sources.get(d.span.file);
        // every position lies inside its file
        expect(d.span.start).toBeGreaterThanOrEqual(0);
        expect(d.span.end).toBeLessThanOrEqual(Math.max(1, source?.text.length ?? 0));
      }
      const rendered = `${result.diagnostics.map((d) => renderText(d, result.program.sources, { color: false, cwd: root })).join('\n\n')}\n`;
      const baseline = path.replace(/\.moe$/, '.stderr');
      if (update || !existsSync(baseline)) writeFileSync(baseline, rendered);
      expect(rendered).toBe(readFileSync(baseline, 'utf8'));
    });
  }

  it('exercises every diagnostic code', () => {
    const missing = Object.keys(catalog).filter((code) => !seenCodes.has(code) && !(code in COVERED_ELSEWHERE));
    expect(missing).toEqual([]);
  });
});
