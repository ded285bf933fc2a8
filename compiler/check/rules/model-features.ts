/**
 * Issue 20's model features in combination: q/k norm and q/k/v biases exist for GQA-family
 * attention only; `window_layers` needs a `window` and names each main layer at most once; a window
 * as long as the context hides nothing; the shared-expert gate and `shared_hidden` need shared experts.
 */
import type { Rule } from '../context.js';

export const modelFeatures: Rule = {
  name: 'model-features',
  check(ctx) {
    for (const model of ctx.ofKind('model')) {
      const attention = model.config.sub('attention');
      if (attention) {
        if (attention.tag === 'mla') {
          for (const field of ['qk_norm', 'qkv_bias'] as const) {
            const value = attention.get(field);
            if (attention.fields.get(field)?.explicit && value !== 'none' && value !== false) {
              ctx.diagnostics.report('MOE4111', attention.spanOf(field), { field }, { help: `remove \`${field}\`, or use gqa attention` });
            }
          }
        }
        const window = attention.num('window');
        const listed = attention.list('window_layers');
        if (listed !== undefined && window === undefined && attention.sets('window_layers')) {
          ctx.diagnostics.report('MOE4112', attention.spanOf('window_layers'), {}, { help: 'set `window = N`' });
        }
        const layers = model.config.num('layers');
        if (listed !== undefined && layers !== undefined) {
          const seen = new Set<number>();
          for (const item of listed) {
            if (typeof item !== 'number') continue;
            const reason = item >= layers ? `layer ${item} is outside 0..${layers - 1}` : seen.has(item) ? `layer ${item} is listed twice` : undefined;
            seen.add(item);
            if (reason) {
              ctx.diagnostics.report('MOE4113', attention.spanOf('window_layers'), { reason });
              break;
            }
          }
        }
        const context = model.config.num('context');
        if (window !== undefined && context !== undefined && window >= context) {
          ctx.diagnostics.report('MOE4114', attention.spanOf('window'), { window, context }, { help: `remove \`window\` or set it below ${context}` });
        }
      }
      for (const range of model.config.ranges) {
        const moe = range.config.sub('moe');
        if (moe?.bool('shared_gate') && (moe.num('shared') ?? 0) === 0) {
          ctx.diagnostics.report('MOE4115', moe.spanOf('shared_gate'), {}, { help: 'set `shared = 1` (or more), or remove `shared_gate`' });
        }
        if (moe?.num('shared_hidden') !== undefined && (moe.num('shared') ?? 0) === 0) {
          ctx.diagnostics.report('MOE4116', moe.spanOf('shared_hidden'), {}, { help: 'set `shared = 1` (or more), or remove `shared_hidden`' });
        }
      }
    }
  },
};
