/**
 * `npm run bench service [FILE] [RUNS]`: how long each language-server request takes on a spec
 * (by default the 671B DeepSeek-V3 example), as medians of many warm runs, two ways: with the
 * document's analysis cached (a request between edits) and right after an edit (the re-check
 * included, the worst case an editor sees). The reference measured in the same run is a plain
 * `checkFile` of the same text. Target (issue 7): every request under 200 ms.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { nodeHost } from '../compiler/bind/node-host.js';
import { checkFile } from '../compiler/check/index.js';
import { LanguageService } from '../compiler/service/index.js';

const TARGET_MS = 200;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(fn: () => void, runs: number, before?: () => void): number[] {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    before?.();
    const t0 = performance.now();
    fn();
    out.push(performance.now() - t0);
  }
  return out;
}

/** The offset just inside the first occurrence of `needle`. */
function at(text: string, needle: string, delta: number): number {
  const i = text.indexOf(needle);
  return i < 0 ? 0 : i + delta;
}

export function benchService(file = 'examples/deepseek-v3.moe', runs = 100): void {
  const path = resolve(file);
  const text = readFileSync(path, 'utf8');
  const service = new LanguageService({ onError: (feature, error) => console.error(`${feature} failed:`, error) });
  service.setText(path, text);
  const end = text.length;
  const requests: [string, () => unknown][] = [
    ['diagnostics', () => service.diagnostics(path)],
    ['hover: model name (stats)', () => service.hover(path, at(text, 'model ', 7))],
    ['hover: stage name (settings)', () => service.hover(path, at(text, 'pretrain ', 10))],
    ['hover: field', () => service.hover(path, at(text, 'top_k', 1))],
    ['completion: fields', () => service.completions(path, at(text, '\n}', 0))],
    ['completion: value after =', () => service.completions(path, at(text, 'score', 13))],
    ['definition', () => service.definition(path, at(text, 'model = ', 9))],
    ['references', () => service.references(path, at(text, 'model ', 7))],
    ['document symbols', () => service.symbols(path)],
    ['formatting', () => service.format(path)],
    ['quick fixes', () => service.quickFixes(path, { start: 0, end })],
    ['folding ranges', () => service.folding(path)],
  ];
  const check = (): void => {
    checkFile(path, nodeHost);
  };
  // an edit that changes nothing still invalidates the cached analysis, as any keystroke does
  const edit = (): void => service.setText(path, text);
  time(check, 30);
  for (const [, ask] of requests) time(ask, 10, edit);

  const checkMs = median(time(check, runs));
  console.log(`language-server requests on ${file} (warm, median of ${runs})`);
  console.log(`  ${'request'.padEnd(30)} ${'cached'.padStart(9)} ${'after edit'.padStart(11)}   ratio to check`);
  let slowest = 0;
  for (const [name, ask] of requests) {
    const cached = median(time(ask, runs));
    const fresh = median(time(ask, runs, edit));
    slowest = Math.max(slowest, fresh);
    console.log(`  ${name.padEnd(30)} ${cached.toFixed(3).padStart(6)} ms ${fresh.toFixed(2).padStart(8)} ms   ${(fresh / checkMs).toFixed(2)}×`);
  }
  console.log(`  ${'checkFile (reference)'.padEnd(30)} ${''.padStart(9)} ${checkMs.toFixed(2).padStart(8)} ms   1.00×`);
  console.log(`  slowest request ${slowest.toFixed(2)} ms (target < ${TARGET_MS} ms: ${slowest < TARGET_MS ? 'met' : 'MISSED'})`);
}
