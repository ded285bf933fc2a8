/** `clip = [ε_low, ε_high]`: both positive and below 10 (a ratio bound). */
import type { Rule } from '../context.js';

export const grpoClip: Rule = {
  name: 'grpo-clip',
  check(ctx) {
    for (const stage of ctx.stages()) {
      const clip = stage.config.get('clip');
      const [low, high] = Array.isArray(clip) ? clip : [clip, clip];
      if (typeof low !== 'number' || typeof high !== 'number') continue;
      if (low >= 1 || high >= 10) {
        ctx.diagnostics.report('MOE6006', stage.config.spanOf('clip'), { low, high }, {
          help: 'the ratio is clipped to [1 - ε_low, 1 + ε_high]; ε_low must be below 1',
        });
      }
    }
  },
};
