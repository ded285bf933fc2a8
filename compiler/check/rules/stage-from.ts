/**
 * `from` names an existing earlier stage (or a checkpoint path); a stage has a model; no cycles
 * through `from` or through an sft stage's `data = SAMPLE_STAGE`.
 */
import type { CheckContext, Rule } from '../context.js';
import type { Config } from '../values.js';

/** A stage another stage needs finished first, and how it is needed (for messages). */
export interface StageDependency {
  readonly name: string;
  readonly field: 'from' | 'data';
  /** reads after the dependant's name: "`final` trains on the samples of `rs`" */
  readonly relation: string;
}

/** The stages a stage depends on: its `from` stage and a `sample` stage named as its `data`. */
export function stageDependencies(config: Config | undefined): StageDependency[] {
  const out: StageDependency[] = [];
  const from = config?.ref('from');
  if (from?.kind === 'ref') out.push({ name: from.name, field: 'from', relation: 'starts from' });
  const data = config?.ref('data');
  if (data?.kind === 'ref' && data.blockKind === 'sample') out.push({ name: data.name, field: 'data', relation: 'trains on the samples of' });
  return out;
}

/** A path of dependency edges from `start` to `goal` (both included), or undefined. */
function pathTo(ctx: CheckContext, start: string, goal: string): string[] | undefined {
  const seen = new Set<string>();
  const walk = (name: string): string[] | undefined => {
    if (name === goal) return [name];
    if (seen.has(name)) return undefined;
    seen.add(name);
    for (const dep of stageDependencies(ctx.blocks.get(name)?.config)) {
      const rest = walk(dep.name);
      if (rest) return [name, ...rest];
    }
    return undefined;
  };
  return walk(start);
}

export const stageFrom: Rule = {
  name: 'stage-from',
  check(ctx) {
    // a cycle is one error, reported at its first stage whose `from` is on it: the stages in it are
    // not reported again (every cycle has a `from` edge: a sample stage has no `data` field)
    const inReportedCycle = new Set<string>();
    for (const stage of ctx.stages()) {
      const from = stage.config.ref('from');
      if (!stage.config.sets('model') && !stage.config.sets('from')) {
        ctx.diagnostics.report('MOE6005', stage.decl.node.name.span, { stage: stage.name }, {
          help: stage.kind === 'pretrain' ? 'add `model = NAME`' : 'add `from = STAGE` or `model = NAME`',
        });
      }
      if (from?.kind !== 'ref' || stage.kind === 'pretrain' || inReportedCycle.has(stage.name)) continue;
      const back = from.name === stage.name ? [stage.name] : pathTo(ctx, from.name, stage.name);
      if (!back) continue;
      const cycle = [stage.name, ...back];
      ctx.diagnostics.report('MOE6003', stage.config.spanOf('from'), {
        stage: stage.name,
        from: from.name,
        reason: `leads back to it: ${cycle.join(' → ')}`,
      });
      cycle.forEach((name) => inReportedCycle.add(name));
    }
  },
};
