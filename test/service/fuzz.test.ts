/**
 * No text makes a language feature throw or hang: mutants of the examples (deleted spans, swapped
 * tokens, random bytes, truncation as while typing, stray language fragments) are analysed and every
 * feature is asked at random offsets — the pure functions directly, without the service's guard,
 * so a bug shows as a failure here instead of an empty answer in the editor.
 */
import { readdirSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  completions,
  definition,
  documentDiagnostics,
  documentSymbols,
  foldingRanges,
  formatDocument,
  hover,
  quickFixes,
  references,
  type Analysis,
} from '../../compiler/service/index.js';
import { analyzeText, examplesDir, exampleText } from './helpers.js';
import { mutations } from '../mutations.js';

const examples = readdirSync(examplesDir)
  .filter((f) => f.endsWith('.moe'))
  .map((f) => exampleText(f));
const { example, deleteSpan, swapTokens, insertJunk } = mutations(examples);
/** what an editor sees while a user types: the text cut anywhere */
const truncate = fc.tuple(example, fc.nat()).map(([text, at]) => text.slice(0, at % text.length));
const FRAGMENTS = ['{', '}', '[', ']', '(', ')', '=', ',', '..', '->', '"', 'r#"', '/*', '//', 'layers', 'model X', 'extends', 'pipeline p {', '.', '80GiB', '-', '%', 'const', 'import "x.moe"'];
const fragments = fc.tuple(example, fc.array(fc.tuple(fc.nat(), fc.constantFrom(...FRAGMENTS)), { minLength: 1, maxLength: 4 })).map(([text, edits]) =>
  edits.reduce((t, [at, fragment]) => {
    const i = at % (t.length + 1);
    return t.slice(0, i) + fragment + t.slice(i);
  }, text),
);

/** The slowest single request, in ms; any exception propagates. */
function askEverything(analysis: Analysis, offsets: readonly number[]): number {
  let slowest = 0;
  const timed = (ask: () => unknown): void => {
    const t0 = performance.now();
    ask();
    slowest = Math.max(slowest, performance.now() - t0);
  };
  timed(() => documentDiagnostics(analysis));
  timed(() => documentSymbols(analysis));
  timed(() => foldingRanges(analysis));
  timed(() => formatDocument(analysis.path, analysis.text));
  for (const offset of offsets) {
    timed(() => hover(analysis, offset));
    timed(() => completions(analysis, offset));
    timed(() => definition(analysis, offset));
    timed(() => references(analysis, offset, true));
    timed(() => quickFixes(analysis, { start: offset, end: offset + 5 }));
  }
  return slowest;
}

describe('fuzzing the language service with mutated examples', () => {
  for (const [name, arb] of [
    ['deleted spans', deleteSpan],
    ['swapped tokens', swapTokens],
    ['random bytes', insertJunk],
    ['truncated while typing', truncate],
    ['stray fragments', fragments],
  ] as const) {
    it(`${name}: no feature throws, every request is quick`, () => {
      let slowest = 0;
      fc.assert(
        fc.property(arb, fc.array(fc.nat(), { minLength: 3, maxLength: 3 }), (text, picks) => {
          const analysis = analyzeText(text);
          const offsets = picks.map((p) => p % (text.length + 1));
          slowest = Math.max(slowest, askEverything(analysis, offsets));
        }),
        { numRuns: 80, seed: 20261123 },
      );
      // generous for a loaded 2-core CI machine; the benchmark (npm run bench service) measures for real
      expect(slowest).toBeLessThan(1000);
    });
  }

  it('every offset of a broken file, one by one', () => {
    const text = 'model M {\n  attention mla { heads = 4, kv_rank = "x }\n  layers 0..1 { moe { router { balance = bias { rate = } } }\n/* open';
    const analysis = analyzeText(text);
    const offsets = Array.from({ length: text.length + 1 }, (_, i) => i);
    expect(askEverything(analysis, offsets)).toBeLessThan(1000);
  });
});
