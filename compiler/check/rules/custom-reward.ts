/**
 * A custom rule names `file.ts#function` relative to the spec; the file must exist inside the spec
 * folder and declare the function. (The full signature check with ts-morph comes with the runtime.)
 */
import { resolveSpecPath, isOutside } from '../../bind/program.js';
import type { Rule } from '../context.js';

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
        const source = new TextDecoder().decode(bytes);
        const declared = new RegExp(`export\\s+(?:async\\s+)?(?:function\\s+${name}\\b|(?:const|let)\\s+${name}\\b)`).test(source);
        if (!declared) {
          ctx.diagnostics.report('MOE6002', span, { ref, reason: `${file} exports no function \`${name}\`` });
        }
      }
    }
  },
};
