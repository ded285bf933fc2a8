/** A data block reads a file inside the spec folder or uses a built-in generator, not both. */
import { isOutside, resolveSpecPath } from '../../bind/program.js';
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
        if (/[*?[]/.test(path)) continue; // globs are expanded by the runtime
        const target = resolveSpecPath(block.decl.node.span.file, path);
        if (!ctx.program.options.allowOutside && isOutside(ctx.program.root, target)) {
          ctx.diagnostics.report('MOE2006', span, { path }, { help: 'pass --allow-outside to permit it' });
        } else if (!ctx.program.host.fileExists(target)) {
          ctx.diagnostics.report('MOE2004', span, { path, reason: 'no such file' });
        }
      }
    }
  },
};
