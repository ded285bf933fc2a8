/** A const nobody reads is probably a leftover or a misspelt reference. */
import type { Rule } from '../context.js';

export const unusedConst: Rule = {
  name: 'unused-const',
  check(ctx) {
    for (const [name, decl] of ctx.program.decls) {
      if (decl.kind !== 'const') continue;
      if (decl.node.name.span.file !== ctx.program.entry) continue; // imported libraries may export more than one spec uses
      if (!ctx.elaborator.usedConsts.has(name)) ctx.diagnostics.report('MOE2016', decl.node.name.span, { name });
    }
  },
};
