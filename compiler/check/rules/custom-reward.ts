/**
 * A custom rule names `file.ts#function` relative to the spec; the file must exist inside the spec
 * folder and declare the function. (The full signature check with ts-morph comes with the runtime.)
 */
import { resolveSpecPath, isOutside } from '../../bind/program.js';
import { didYouMean } from '../../diagnostics/did-you-mean.js';
import type { Rule } from '../context.js';

/** Names a module exports as functions or bindings (`export [async] function f`, `export const f`). */
function exportedNames(source: string): string[] {
  return [...source.matchAll(/export\s+(?:async\s+)?(?:function\s*\*?\s*|const\s+|let\s+)([A-Za-z_$][\w$]*)/g)].map((m) => m[1]!);
}

export const customReward: Rule = {
  name: 'custom-reward',
  check(ctx) {
    for (const reward of ctx.ofKind('reward')) {
      for (const rule of reward.config.rules) {
        if (rule.ruleKind !== 'custom') continue;
        const ref = rule.config.str('function');
        if (ref === undefined) continue;
        const span = rule.config.spanOf('function');
        const match = /^(.+\.(?:ts|mts|js|mjs))#([A-Za-z_$][\w$]*)$/.exec(ref);
        if (!match) {
          ctx.diagnostics.report('MOE6002', span, { ref, reason: 'expected `file.ts#functionName`' });
          continue;
        }
        const [, file, name] = match as unknown as [string, string, string];
        const path = resolveSpecPath(reward.decl.node.span.file, file);
        if (!ctx.program.options.allowOutside && isOutside(ctx.program.root, path)) {
          ctx.diagnostics.report('MOE2006', span, { path: file }, { help: 'pass --allow-outside to permit it' });
          continue;
        }
        const bytes = ctx.program.host.readFile(path);
        if (typeof bytes === 'string') {
          ctx.diagnostics.report('MOE6002', span, { ref, reason: `cannot read ${file}: ${bytes}` });
          continue;
        }
        const exported = exportedNames(new TextDecoder().decode(bytes));
        if (!exported.includes(name)) {
          ctx.diagnostics.report('MOE6002', span, { ref, reason: `${file} exports no function \`${name}\`` }, {
            help: didYouMean(name, exported) ?? (exported.length ? `it exports ${exported.map((n) => `\`${n}\``).join(', ')}` : 'export the function'),
          });
        }
      }
    }
  },
};
