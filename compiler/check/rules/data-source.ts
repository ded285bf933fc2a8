/**
 * A data block reads a file inside the spec folder or uses a built-in generator, not both. "Inside"
 * holds for real paths (a symlink out of the folder is outside) and for every match of a glob: its
 * fixed leading folders, and each file it matches now (the runtime checks the matches again when it
 * reads them). A plain source whose first bytes say Parquet while its format (set, or from the
 * extension) says text or JSONL is refused here too (MOE7101), before a run reads it.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { escapes, realPath } from '../../../util/files.js';
import { expandGlob, hasMagic, literalPrefix } from '../../../util/glob.js';
import { resolveSpecPath } from '../../bind/program.js';
import type { Rule } from '../context.js';

export const dataSource: Rule = {
  name: 'data-source',
  check(ctx) {
    const pathFields: [string, string][] = [
      ['data', 'source'],
      ['tokenizer', 'file'],
    ];
    for (const [kind, field] of pathFields) {
      for (const block of ctx.ofKind(kind as 'data' | 'tokenizer')) {
        const path = block.config.str(field);
        const synthetic = block.config.sub('synthetic');
        const generated = synthetic !== undefined && synthetic.tag !== 'none';
        if (kind === 'data') {
          // an invalid `source` or `synthetic` is already reported: it is not missing
          const generatorSet = block.config.sets('synthetic') && synthetic?.tag !== 'none';
          if (!block.config.sets('source') && !generatorSet) {
            ctx.diagnostics.report('MOE6010', block.decl.node.name.span, { data: block.name, reason: 'it has neither `source` nor `synthetic`' }, {
              help: 'add `source = "file.jsonl"` or `synthetic = arithmetic { }`',
            });
          } else if (path !== undefined && generated) {
            ctx.diagnostics.report('MOE6010', block.config.spanOf('synthetic'), { data: block.name, reason: 'it has both `source` and `synthetic`' });
          }
        }
        if (path === undefined) continue;
        const span = block.config.spanOf(field);
        const target = resolveSpecPath(block.decl.node.span.file, path);
        const outside = (file: string): boolean => !ctx.program.options.allowOutside && escapes(ctx.program.root, file);
        if (hasMagic(path)) {
          // whether any file matches is the runtime's question: the files may be written later
          const prefix = literalPrefix(target);
          const leaving = outside(prefix) ? prefix : expandGlob(path, dirname(block.decl.node.span.file)).find(outside);
          if (leaving !== undefined) {
            ctx.diagnostics.report('MOE2006', span, { path }, {
              label: leaving === prefix ? `it searches ${leaving}` : `it matches ${relative(ctx.program.root, leaving)}, which resolves to ${realPath(leaving)}`,
              help: 'pass --allow-outside to permit it',
            });
          }
          continue;
        }
        if (outside(target)) {
          ctx.diagnostics.report('MOE2006', span, { path }, { help: 'pass --allow-outside to permit it' });
        } else if (!ctx.program.host.fileExists(target)) {
          ctx.diagnostics.report('MOE2004', span, { path, reason: 'no such file' });
        } else if (kind === 'data') {
          const declared = block.config.str('format');
          const format = declared ?? (/\.parquet$/i.test(path) ? 'parquet' : /\.(jsonl|ndjson|json)$/i.test(path) ? 'jsonl' : 'text');
          const parquet = startsWithParquetMagic(target);
          if (parquet !== undefined && parquet !== (format === 'parquet')) {
            ctx.diagnostics.report(
              'MOE7101',
              span,
              { file: path, format: format === 'parquet' ? 'Parquet' : format === 'jsonl' ? 'JSONL' : 'text', reason: parquet ? 'it is a Parquet file (it starts with PAR1)' : 'it does not start with PAR1' },
              { help: parquet ? 'name it .parquet or set `format = parquet`' : 'set `format = text` or `format = jsonl`, or name the file by its content' },
            );
          }
        }
      }
    }
  },
};

/** Whether a regular file starts with Parquet's magic; undefined when it cannot tell (not a regular file, unreadable). */
function startsWithParquetMagic(file: string): boolean | undefined {
  let fd: number;
  try {
    // non-blocking, and only a regular file is read: a pipe or a device must not hang the checker
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    if (!fstatSync(fd).isFile()) return undefined;
    const head = Buffer.alloc(4);
    return readSync(fd, head, 0, 4, 0) === 4 && head.toString('latin1') === 'PAR1';
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}
