/** `moe export hf CHECKPOINT -o DIR [--dtype f32|bf16]`: our checkpoint → a folder HF transformers loads. */
import { relative, resolve } from 'node:path';
import { EXPORT_DTYPES, exportHf, type ExportDtype } from '../../interop/hf/export.js';
import { EXIT, UsageError, existingPath, type CliIo } from '../io.js';

export interface ExportOptions {
  readonly out: string;
  readonly dtype?: string;
}

export function runExport(format: string, checkpoint: string, options: ExportOptions, io: CliIo): number {
  if (format !== 'hf') throw new UsageError(`unknown export format \`${format}\`; formats: hf`);
  const dtype = options.dtype ?? 'f32';
  if (!(EXPORT_DTYPES as readonly string[]).includes(dtype)) throw new UsageError(`unknown --dtype \`${dtype}\`; dtypes: ${EXPORT_DTYPES.join(', ')}`);
  const source = existingPath(io, checkpoint, 'folder');
  const result = exportHf(source, resolve(io.cwd, options.out), { dtype: dtype as ExportDtype });
  io.stdout(`wrote ${relative(io.cwd, result.dir) || result.dir} (${result.modelType} model ${result.model}, ${result.tensors} tensors, ${dtype})\n`);
  return EXIT.ok;
}
