/**
 * The first steps of every command that runs a spec (`moe train`, `moe run`): the file must exist,
 * `--steps` must be a whole number, and the spec must check clean (diagnostics are printed);
 * then it is lowered to its IR document.
 */
import { nodeHost } from '../../compiler/bind/node-host.js';
import { checkFile } from '../../compiler/check/index.js';
import { renderText } from '../../compiler/diagnostics/render.js';
import type { GraphDocument } from '../../ir/types.js';
import { lowerSpec } from '../../compiler/lower/index.js';
import { EXIT, UsageError, existingPath, type CliIo } from '../io.js';

export interface SpecDocument {
  readonly path: string;
  readonly document: GraphDocument;
  readonly steps: number | undefined;
}

/** The lowered spec, or the exit status when it has errors (already printed). */
export function specDocument(spec: string, stepsText: string | undefined, io: CliIo): SpecDocument | number {
  const path = existingPath(io, spec, 'file');
  const steps = stepsText === undefined ? undefined : Number(stepsText);
  if (steps !== undefined && (!Number.isInteger(steps) || steps < 1)) throw new UsageError(`--steps takes a whole number ≥ 1, found \`${stepsText}\``);
  const checked = checkFile(path, nodeHost);
  for (const d of checked.diagnostics) io.stderr(`${renderText(d, checked.program.sources, { color: io.color, cwd: io.cwd })}\n\n`);
  if (checked.errorCount > 0) return EXIT.specErrors;
  return { path, document: lowerSpec(checked, io.cwd), steps };
}
