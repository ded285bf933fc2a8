/**
 * The front-end in one call: load (parse + bind) → elaborate every block → run every rule. All
 * diagnostics of all phases come back together, sorted; nothing here throws on user input.
 */
import { loadProgram, type CompilerHost, type LoadOptions, type Program } from '../bind/program.js';
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import { CheckContext } from './context.js';
import { Elaborator } from './elaborate.js';
import { rules } from './rules/index.js';

export interface CheckResult {
  readonly program: Program;
  readonly context: CheckContext;
  readonly diagnostics: readonly Diagnostic[];
  readonly errorCount: number;
}

export function checkFile(path: string, host: CompilerHost, options: LoadOptions = {}): CheckResult {
  const program = loadProgram(path, host, options);
  const diagnostics = program.diagnostics;
  const elaborator = new Elaborator(program, diagnostics);
  const context = new CheckContext(program, elaborator, diagnostics);
  for (const rule of rules) rule.check(context);
  // counted before the display cap, so hidden errors still fail the check
  return { program, context, diagnostics: diagnostics.sorted(), errorCount: diagnostics.errorCount };
}

export { CheckContext } from './context.js';
export { Config } from './values.js';
export { modelShape } from './model-shape.js';
