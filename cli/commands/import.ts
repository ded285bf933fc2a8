/** `moe import hf DIR -o OUT [--name NAME]`: a HF checkpoint folder → our checkpoint + its `.moe` spec. */
import { relative, resolve } from 'node:path';
import { importHf, isModelName } from '../../interop/hf/import.js';
import { EXIT, UsageError, existingPath, type CliIo } from '../io.js';

export interface ImportOptions {
  readonly out: string;
  readonly name?: string;
}

export function runImport(format: string, dir: string, options: ImportOptions, io: CliIo): number {
  if (format !== 'hf') throw new UsageError(`unknown checkpoint format \`${format}\`; formats: hf`);
  const source = existingPath(io, dir, 'folder');
  if (options.name !== undefined && !isModelName(options.name)) {
    throw new UsageError(`--name ${options.name} is not a model name (letters, digits and _, not starting with a digit)`);
  }
  const result = importHf(source, resolve(io.cwd, options.out), { name: options.name });
  const shown = (path: string): string => relative(io.cwd, path) || path;
  io.stdout(`wrote ${shown(result.checkpoint)} (model ${result.model}, ${result.tensors} tensors)\n`);
  io.stdout(`wrote ${shown(result.spec)}\n`);
  return EXIT.ok;
}
