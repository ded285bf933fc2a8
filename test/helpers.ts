/** Shared test helpers: check text in memory, run the CLI in-process. */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { CompilerHost } from '../compiler/bind/program.js';
import { checkFile, type CheckResult } from '../compiler/check/index.js';
import { main } from '../cli/main.js';

/** A host over in-memory files (paths absolute under /mem). */
export function memoryHost(files: Record<string, string | Uint8Array>): CompilerHost {
  const resolved = new Map(Object.entries(files).map(([p, c]) => [join('/mem', p), c]));
  return {
    readFile(path) {
      const content = resolved.get(path);
      if (content === undefined) return 'no such file';
      return typeof content === 'string' ? new TextEncoder().encode(content) : content;
    },
    fileExists: (path) => resolved.has(path),
  };
}

const examplesDir = join(import.meta.dirname, '..', 'examples');

/** The text of examples/NAME. */
export function exampleSpec(name: string): string {
  return readFileSync(join(examplesDir, name), 'utf8');
}

/**
 * Every file under examples/data, keyed by its path relative to examples/ (`data/r1-tiny/eval.jsonl`),
 * which is how an example names it: checkText(exampleSpec(name), exampleData()) checks an example in
 * memory with the files it reads.
 */
export function exampleData(): Record<string, string> {
  const dir = join(examplesDir, 'data');
  // string paths, not Dirent.parentPath (Node ≥ 20.12): package.json allows any Node 20
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((name) => join(dir, name)).filter((path) => statSync(path).isFile());
  return Object.fromEntries(files.map((path) => [relative(examplesDir, path), readFileSync(path, 'utf8')]));
}

export function checkText(text: string, others: Record<string, string> = {}): CheckResult {
  return checkFile('/mem/spec.moe', memoryHost({ 'spec.moe': text, ...others }));
}

export function codes(result: CheckResult): string[] {
  return result.diagnostics.map((d) => d.code);
}

export async function runCli(args: string[], cwd = process.cwd()): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    cwd,
    color: false,
  });
  return { code, stdout, stderr };
}
