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
  const t = result.tokenizer;
  if (!t.copied) io.stderr('note: the HF folder has no tokenizer.json, so the checkpoint has none: moe generate needs --ids or --tokenizer\n');
  else if (t.unreadable !== undefined) io.stderr(`note: copied the tokenizer, which moe cannot read (${t.unreadable}): moe generate needs --ids; moe export hf writes it back\n`);
  else io.stdout('copied the tokenizer (tokenizer.json, tokenizer_config.json) into the checkpoint\n');
  return EXIT.ok;
}
