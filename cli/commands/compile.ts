/** `moe compile FILE [-o DIR] [--emit graph,ts,dot,svg,hf-config,megatron]` */
import { basename, join, relative, resolve } from 'node:path';
import { nodeHost } from '../../compiler/bind/node-host.js';
import { EMITTERS, type EmitterName } from '../../compiler/codegen/index.js';
import { checkFile } from '../../compiler/check/index.js';
import { diagnostic } from '../../compiler/diagnostics/diagnostic.js';
import { renderText } from '../../compiler/diagnostics/render.js';
import { lowerSpec } from '../../compiler/lower/index.js';
import { EXIT, UsageError, existingPath, type CliIo } from '../io.js';
import { writeAtomic } from '../write-atomic.js';

export interface CompileOptions {
  readonly out?: string;
  readonly emit?: string;
  readonly allowOutside?: boolean;
}

export function parseEmit(list: string | undefined): EmitterName[] {
  const names = (list ?? 'graph').split(',').map((s) => s.trim()).filter(Boolean);
  const known = Object.keys(EMITTERS);
  for (const name of names) {
    if (!known.includes(name)) throw new UsageError(`unknown --emit format \`${name}\`; formats: ${known.join(', ')}`);
  }
  return [...new Set(names)] as EmitterName[];
}

export async function runCompile(file: string, options: CompileOptions, io: CliIo): Promise<number> {
  const formats = parseEmit(options.emit);
  const path = existingPath(io, file, 'file');
  const checked = checkFile(path, nodeHost, { allowOutside: options.allowOutside ?? false });
  for (const d of checked.diagnostics) io.stderr(`${renderText(d, checked.program.sources, { color: io.color, cwd: io.cwd })}\n\n`);
  if (checked.errorCount > 0) {
    io.stderr(`${checked.errorCount} error${checked.errorCount === 1 ? '' : 's'}: nothing compiled\n`);
    return EXIT.specErrors;
  }
  const document = lowerSpec(checked, io.cwd);
  const outDir = resolve(io.cwd, options.out ?? '.');
  const specName = basename(path).replace(/\.moe$/, '');
  let failed = 0;
  for (const format of formats) {
    const result = await EMITTERS[format](document, specName);
    if ('error' in result) {
      failed++;
      const span = checked.context.ofKind('model')[0]?.decl.node.name.span ?? { file: path, start: 0, end: 1 };
      const d = diagnostic('MOE7002', span, { format, name: specName, reason: result.error });
      io.stderr(`${renderText(d, checked.program.sources, { color: io.color, cwd: io.cwd })}\n\n`);
      continue;
    }
    for (const f of result.files) {
      const target = join(outDir, f.name);
      writeAtomic(target, f.text);
      io.stdout(`wrote ${relative(io.cwd, target) || target}\n`);
    }
  }
  return failed > 0 ? EXIT.specErrors : EXIT.ok;
}
