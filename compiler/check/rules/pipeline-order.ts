/** A pipeline lists existing stages, each once, after the stage it starts `from` and the sample stage it trains on. */
import { didYouMean } from '../../../util/did-you-mean.js';
import type { Rule } from '../context.js';
import { stageDependencies } from './stage-from.js';

export const pipelineOrder: Rule = {
  name: 'pipeline-order',
  check(ctx) {
    const stageNames = ctx.stages().map((s) => s.name);
    for (const pipeline of ctx.pipelines) {
      const report = (span: Parameters<typeof ctx.diagnostics.report>[1], reason: string, help?: string): void =>
        ctx.diagnostics.report('MOE6004', span, { pipeline: pipeline.name.name, reason }, help ? { help } : {});
      if (pipeline.chains.length === 0) {
        report(pipeline.name.span, 'it lists no stages', 'write `pipeline NAME { a -> b -> c }`');
        continue;
      }
      // edges a -> b; order = a topological order of the listed stages
      const edges = new Map<string, Set<string>>();
      const listed = new Map<string, (typeof pipeline.chains)[number][number]>();
      for (const chain of pipeline.chains) {
        chain.forEach((ident, i) => {
          if (!ctx.isStage(ident.name)) {
            const what = ctx.blocks.has(ident.name) ? `\`${ident.name}\` is a ${ctx.blocks.get(ident.name)!.kind}, not a stage` : `no stage \`${ident.name}\``;
            report(ident.span, what, didYouMean(ident.name, stageNames));
            return;
          }
          if (!listed.has(ident.name)) listed.set(ident.name, ident);
          const prev = chain[i - 1];
          if (prev && ctx.isStage(prev.name)) {
            if (!edges.has(prev.name)) edges.set(prev.name, new Set());
            edges.get(prev.name)!.add(ident.name);
          }
        });
      }
      const before = reachability(edges);
      for (const [name, ident] of listed) {
        // a dependency the pipeline does not list is taken as done (or run first by `moe run`)
        for (const dep of stageDependencies(ctx.blocks.get(name)?.config)) {
          if (!listed.has(dep.name) || before(dep.name, name)) continue;
          report(ident.span, `\`${name}\` ${dep.relation} \`${dep.name}\`, which does not run before it`, `write \`${dep.name} -> ${name}\``);
        }
      }
      for (const [name, ident] of listed) {
        if (before(name, name)) report(ident.span, `\`${name}\` is part of a cycle`);
      }
    }
  },
};

/** `before(a, b)`: is there a path a → … → b of at least one edge? */
function reachability(edges: ReadonlyMap<string, ReadonlySet<string>>): (a: string, b: string) => boolean {
  const cache = new Map<string, Set<string>>();
  const reach = (a: string): Set<string> => {
    const cached = cache.get(a);
    if (cached) return cached;
    const seen = new Set<string>();
    cache.set(a, seen);
    const stack = [...(edges.get(a) ?? [])];
    while (stack.length) {
      const n = stack.pop()!;
      if (seen.has(n)) continue;
      seen.add(n);
      stack.push(...(edges.get(n) ?? []));
    }
    return seen;
  };
  return (a, b) => reach(a).has(b);
}
