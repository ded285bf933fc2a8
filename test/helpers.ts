/** Shared test helpers: check text in memory, run the CLI in-process. */
import { join } from 'node:path';
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
