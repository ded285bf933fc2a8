/**
 * What `moe run SPEC [TARGET]` runs. TARGET is a pipeline or a stage (they share one namespace);
 * without it, the spec's default pipeline:
 *   - no pipeline: every stage;
 *   - one pipeline: that one;
 *   - several: the one named `default`, else the one named like the spec file (`r1-tiny.moe` →
 *     `r1_tiny`), else an error listing them.
 * The named stages then run with every stage they depend on (`after`: their `from` stage and the
 * sample stage they train on), dependencies first, so a stage target brings its inputs along.
 */
import { basename } from 'node:path';
import { didYouMean } from '../../util/did-you-mean.js';
import type { Plan, PipelinePlan } from '../../ir/types.js';
import { topologicalOrder } from '../../util/topological-order.js';
import { RuntimeError } from '../errors.js';

export interface Selection {
  /** what runs, for messages: `pipeline recipe`, `stage cold`, `every stage` */
  readonly label: string;
  /** the stages the target names (what `--force` reruns) */
  readonly named: readonly string[];
  /** the named stages and everything they depend on, dependencies first */
  readonly order: readonly string[];
}

export function selectStages(plan: Plan, specFile: string, target?: string): Selection {
  const pipeline = target === undefined ? defaultPipeline(plan, specFile) : plan.pipelines.find((p) => p.name === target);
  if (pipeline) return withDependencies(plan, `pipeline ${pipeline.name}`, pipeline.order, pipeline.edges);
  if (target === undefined) return withDependencies(plan, 'every stage', plan.stages.map((s) => s.name), []);
  if (plan.stages.some((s) => s.name === target)) return withDependencies(plan, `stage ${target}`, [target], []);
  const known = [...plan.pipelines.map((p) => p.name), ...plan.stages.map((s) => s.name)];
  throw new RuntimeError(`the spec has no pipeline or stage \`${target}\``, didYouMean(target, known) ?? `choose one of: ${choices(plan)}`);
}

/** The pipeline `moe run SPEC` runs without a target; undefined when the spec has none. */
export function defaultPipeline(plan: Plan, specFile: string): PipelinePlan | undefined {
  const pipelines = plan.pipelines;
  if (pipelines.length <= 1) return pipelines[0];
  const fileName = basename(specFile).replace(/\.moe$/, '').replace(/[^A-Za-z0-9_]/g, '_');
  const chosen = pipelines.find((p) => p.name === 'default') ?? pipelines.find((p) => p.name === fileName);
  if (chosen) return chosen;
  throw new RuntimeError(
    `the spec has ${pipelines.length} pipelines and none is the default: ${pipelines.map((p) => p.name).join(', ')}`,
    `name one (\`moe run SPEC ${pipelines[0]!.name}\`), or call one \`default\``,
  );
}

function choices(plan: Plan): string {
  const pipelines = plan.pipelines.map((p) => p.name);
  const stages = plan.stages.map((s) => s.name);
  return [pipelines.length ? `pipelines ${pipelines.join(', ')}` : '', stages.length ? `stages ${stages.join(', ')}` : ''].filter(Boolean).join('; ') || 'none';
}

function withDependencies(plan: Plan, label: string, named: readonly string[], edges: readonly (readonly [string, string])[]): Selection {
  const byName = new Map(plan.stages.map((s) => [s.name, s]));
  const needed = new Set<string>();
  const visit = (name: string): void => {
    if (needed.has(name)) return;
    needed.add(name);
    for (const dep of byName.get(name)?.after ?? []) visit(dep);
  };
  named.forEach(visit);
  // ties: dependencies outside the target first (in source order), then the target's own order
  const extra = plan.stages.map((s) => s.name).filter((n) => needed.has(n) && !named.includes(n));
  const names = [...extra, ...named];
  const allEdges = [...edges, ...names.flatMap((n) => (byName.get(n)?.after ?? []).map((dep) => [dep, n] as const))];
  return { label, named, order: topologicalOrder(names, allEdges) };
}
