/**
 * The experiment plan: every stage with resolved hyper-parameters (units normalised to base units,
 * token budgets turned into steps, schedules evaluated to step numbers), references by name, and
 * the stage dependencies as a DAG; pipelines in a dependency-respecting order.
 */
import { dirname, relative, resolve } from 'node:path';
import type { StageKindName } from '../../grammar/tokens.js';
import type { CheckContext, CheckedBlock } from '../check/context.js';
import { batchSequences, trainingSteps } from '../check/plan.js';
import { Config, isPair, isQuantity, isRef, type Value } from '../check/values.js';
import type { AttrValue, Plan, PipelinePlan, StagePlan } from '../../ir/types.js';
import type { Locate } from './loc.js';
import { topologicalOrder } from '../../util/topological-order.js';
import { blockDefaults } from '../schema/defaults.js';
import { stageSpecs } from '../schema/stages.js';

/** A checked value as an IR attribute: quantities in their base unit, references by name. */
export function attr(value: Value): AttrValue {
  if (value instanceof Config) return configAttrs(value);
  if (Array.isArray(value)) return value.map(attr);
  if (isQuantity(value)) return value.value;
  if (isRef(value)) return value.kind === 'ref' ? value.name : { path: value.path };
  if (isPair(value)) return { at: attr(value.key), value: attr(value.value) };
  return value as AttrValue;
}

export function configAttrs(config: Config): { [k: string]: AttrValue } {
  const out: { [k: string]: AttrValue } = {};
  if (config.tag !== undefined) out.kind = config.tag;
  for (const [name, entry] of config.fields) out[name] = attr(entry.value);
  if (config.rules.length > 0) {
    out.rules = config.rules.map((r) => ({ name: r.name, weight: r.weight, ...configAttrs(r.config) }));
  }
  return out;
}

function schedule(stage: Config, steps: number | undefined): AttrValue {
  const s = stage.sub('schedule');
  if (!s) return { kind: 'constant', warmup_steps: 0 };
  const out: { [k: string]: AttrValue } = { kind: s.tag ?? 'constant', warmup_steps: s.num('warmup') ?? 0 };
  if (s.tag === 'cosine') out.min_ratio = s.num('min_ratio') ?? 0.1;
  if (s.tag === 'multistep') {
    const decay = (s.list('decay') ?? []).filter(isPair);
    // factors are relative to the peak lr, not cumulative: [80% -> 0.316, 90% -> 0.1] means
    // lr × 0.316 from 80% of training and lr × 0.1 from 90%
    out.milestones = decay.map((d) => ({
      fraction: d.key as number,
      step: steps === undefined ? null : Math.round((d.key as number) * steps),
      factor: d.value as number,
    }));
  }
  return out;
}

function hyper(ctx: CheckContext, stage: CheckedBlock & { readonly kind: StageKindName }): { [k: string]: AttrValue } {
  const c = stage.config;
  const out = configAttrs(c);
  delete out.model;
  delete out.from;
  const steps = trainingSteps(c);
  if (c.has('steps') || c.has('epochs')) {
    out.steps = steps ?? null;
    const q = c.quantity('steps');
    out.epochs = q?.dim === 'epochs' ? q.value : (c.num('epochs') ?? null);
  }
  if (c.has('batch')) {
    const unit = c.quantity('batch')?.dim;
    if (unit === 'prompts') out.batch_prompts = c.num('batch') ?? 0;
    else out.batch_sequences = batchSequences(c) ?? 0;
    delete out.batch;
  }
  if (c.has('schedule')) out.schedule = schedule(c, steps);
  // an absent optional block means its schema defaults; written out so a runtime never invents them
  for (const name of ['checkpoint', 'eval'] as const) {
    if (name in stageSpecs[stage.kind].fields && !c.has(name)) out[name] = blockDefaults(stageSpecs[stage.kind], name);
  }
  const samples = sampleStageOf(c);
  if (samples !== undefined) out.data = { stage: samples };
  const tokenizer = inheritedOrOnly(ctx, stage, 'tokenizer');
  if (tokenizer) out.tokenizer = tokenizer;
  if (stage.kind === 'eval') {
    const answer = answerRule(ctx, c);
    if (answer !== undefined) out.answer = answer;
  }
  return out;
}

/**
 * The rule an eval stage counts right answers by: its `answer`, else its reward's one rule of kind
 * `answer` (the checker refuses a spec where that is not exactly one), written out so a runtime
 * never picks one itself.
 */
function answerRule(ctx: CheckContext, stage: Config): string | undefined {
  const named = stage.str('answer');
  if (named !== undefined) return named;
  const reward = stage.ref('reward');
  const rules = reward?.kind === 'ref' ? (ctx.blocks.get(reward.name)?.config.rules ?? []) : [];
  const answers = rules.filter((r) => r.ruleKind === 'answer');
  return answers.length === 1 ? answers[0]!.name : undefined;
}

/**
 * The model or tokenizer a stage uses: its own or one inherited through `from` stages; a stage that
 * starts from a checkpoint path names none, and then the spec's only block of that kind is meant.
 */
function inheritedOrOnly(ctx: CheckContext, stage: CheckedBlock, field: 'model' | 'tokenizer'): string | undefined {
  const named = ctx.inherited(stage, field);
  if (named !== undefined) return named;
  const blocks = ctx.ofKind(field);
  return blocks.length === 1 ? blocks[0]!.name : undefined;
}

/** The `sample` stage whose output an sft stage trains on (`data = rs`), if `data` names one. */
function sampleStageOf(stage: Config): string | undefined {
  const data = stage.ref('data');
  return data?.kind === 'ref' && data.blockKind === 'sample' ? data.name : undefined;
}

/**
 * Paths in the IR are relative to the entry spec's folder, whichever (possibly imported) file
 * declared them, so a runtime resolves them against `dirname(source)` alone.
 */
function rebasePath(ctx: CheckContext, block: CheckedBlock, path: string): string {
  const absolute = resolve(dirname(block.decl.node.span.file), path);
  return relative(dirname(ctx.program.entry), absolute) || '.';
}

const PATH_FIELDS: Readonly<Record<string, string>> = { data: 'source', tokenizer: 'file' };

export function lowerPlan(ctx: CheckContext, locate: Locate): Plan {
  const group = (kind: 'data' | 'tokenizer' | 'reward' | 'cluster') =>
    Object.fromEntries(
      ctx.ofKind(kind).map((b) => {
        const attrs = configAttrs(b.config);
        const field = PATH_FIELDS[kind];
        const path = field ? b.config.str(field) : undefined;
        if (field && path !== undefined) attrs[field] = rebasePath(ctx, b, path);
        return [b.name, attrs];
      }),
    );
  const stages: StagePlan[] = ctx.stages().map((stage) => {
    const from = stage.config.ref('from');
    const deps = new Set<string>();
    if (from?.kind === 'ref') deps.add(from.name);
    const samples = sampleStageOf(stage.config);
    if (samples !== undefined) deps.add(samples);
    return {
      name: stage.name,
      kind: stage.kind,
      loc: locate(stage.decl.node.name.span),
      model: inheritedOrOnly(ctx, stage, 'model') ?? null,
      from: from ? (from.kind === 'ref' ? { stage: from.name } : { path: rebasePath(ctx, stage, from.path) }) : null,
      after: [...deps],
      hyper: hyper(ctx, stage),
    };
  });
  const pipelines: PipelinePlan[] = ctx.pipelines.map((p) => {
    const edges: [string, string][] = [];
    for (const chain of p.chains) for (let i = 1; i < chain.length; i++) edges.push([chain[i - 1]!.name, chain[i]!.name]);
    return { name: p.name.name, loc: locate(p.name.span), order: topologicalOrder(p.chains.flat().map((i) => i.name), edges), edges };
  });
  return { data: group('data'), tokenizers: group('tokenizer'), rewards: group('reward'), clusters: group('cluster'), stages, pipelines };
}
