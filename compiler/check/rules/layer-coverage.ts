/** Every layer 0..layers-1 is covered by exactly one `layers a..b` range, each with one feed-forward. */
import type { Rule } from '../context.js';

export const layerCoverage: Rule = {
  name: 'layer-coverage',
  check(ctx) {
    for (const model of ctx.ofKind('model')) {
      const layerCount = model.config.num('layers');
      const owner: (number | undefined)[] = [];
      model.config.ranges.forEach((range, index) => {
        const kinds = ['ffn', 'moe'].filter((k) => range.config.has(k));
        if (kinds.length !== 1) {
          ctx.diagnostics.report('MOE4004', range.rangeSpan, { found: kinds.length === 0 ? 'neither' : 'both' });
        }
        if (layerCount === undefined) return;
        if (range.from > range.to || range.to > layerCount - 1) {
          ctx.diagnostics.report('MOE4003', range.rangeSpan, { range: `${range.from}..${range.to}`, last: layerCount - 1 }, {
            ...(range.from > range.to ? { help: 'a range is written low..high' } : {}),
          });
          // the layers it meant to cover, within bounds, are not reported again as uncovered
          const last = Math.min(Math.max(range.from, range.to), layerCount - 1);
          for (let i = Math.min(range.from, range.to); i <= last; i++) owner[i] ??= index;
          return;
        }
        const overlapping: number[] = [];
        for (let i = range.from; i <= range.to; i++) {
          if (owner[i] !== undefined) overlapping.push(i);
          else owner[i] = index;
        }
        if (overlapping.length > 0) {
          const first = model.config.ranges[owner[overlapping[0]!]!]!;
          ctx.diagnostics.report('MOE4002', range.rangeSpan, { layers: layerList(overlapping) }, {
            related: [{ span: first.rangeSpan, message: 'also covered here' }],
          });
        }
      });
      if (layerCount === undefined) continue;
      const missing: number[] = [];
      for (let i = 0; i < layerCount; i++) if (owner[i] === undefined) missing.push(i);
      if (missing.length > 0) {
        const first = missing.findIndex((layer, i) => missing[i + 1] !== layer + 1);
        ctx.diagnostics.report('MOE4001', model.config.spanOf('layers'), { layers: layerList(missing), model: `\`${model.name}\`` }, {
          help: `add \`layers ${missing[0]}..${missing[first]} { ... }\``,
        });
      }
    }
  },
};

/** `[3]` → `layer 3`, `[0,1,2,5]` → `layers 0..2, 5` */
function layerList(indices: readonly number[]): string {
  return `${indices.length === 1 ? 'layer' : 'layers'} ${compress(indices)}`;
}

/** `[0,1,2,5]` → `0..2, 5` */
export function compress(indices: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < indices.length; ) {
    let j = i;
    while (j + 1 < indices.length && indices[j + 1] === indices[j]! + 1) j++;
    parts.push(i === j ? `${indices[i]}` : `${indices[i]}..${indices[j]}`);
    i = j + 1;
  }
  return parts.join(', ');
}
