/**
 * The front-end in one call: load (parse + bind) → elaborate every block → run every rule. All
 * diagnostics of all phases come back together, sorted (after a syntax error, those of loading only);
 * nothing here throws on user input.
 */
import { loadProgram, type CompilerHost, type LoadOptions, type Program } from '../bind/program.js';
import { DiagnosticBag, type Diagnostic } from '../diagnostics/diagnostic.js';
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
  // After a syntax error the tree lacks or misreads what follows it, and checking it would report
  // those holes as errors of their own: the context is still built, but its findings are dropped.
  const checked = hasSyntaxErrors(diagnostics) ? new DiagnosticBag() : diagnostics;
  const elaborator = new Elaborator(program, checked);
  const context = new CheckContext(program, elaborator, checked);
  for (const rule of rules) rule.check(context);
  // counted before the display cap, so hidden errors still fail the check
  return { program, context, diagnostics: diagnostics.sorted(), errorCount: diagnostics.errorCount };
}

function hasSyntaxErrors(diagnostics: DiagnosticBag): boolean {
  return diagnostics.all.some((d) => d.code.startsWith('MOE1') && d.severity === 'error');
}

export { CheckContext } from './context.js';
export { Config } from './values.js';
export { modelShape } from './model-shape.js';
