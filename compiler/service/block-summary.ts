/**
 * What hovering a block's name shows besides a model's numbers: the block's resolved settings
 * (explicit values and defaults, after `extends`), and for a stage also the model it trains
 * (followed through `from`), its length in steps and its memory per device on its cluster.
 */
import type { CheckContext, CheckedBlock } from '../check/context.js';
import { clusterShape, parallelPlan, trainingSetup, trainingSteps } from '../check/plan.js';
import { estimateMemory, formatBytes } from '../stats/index.js';
import { configLines } from './values.js';

export function blockSummary(ctx: CheckContext, name: string): string | undefined {
  const block = ctx.blocks.get(name);
  if (!block) return undefined;
  const base = block.decl.node.base ? ` extends ${block.decl.node.base.name}` : '';
  const lines = configLines(block.config);
  const rules = block.config.rules.map((r) => `${r.name} ${r.weight} = ${r.ruleKind}`);
  const body = [...lines, ...rules].map((l) => `  ${l}`).join('\n');
  const code = `\`\`\`moe\n${block.kind} ${name}${base} {\n${body}\n}\n\`\`\``;
  return [code, ctx.isStage(name) ? stageFacts(ctx, block) : ''].filter(Boolean).join('\n\n');
}

function stageFacts(ctx: CheckContext, stage: CheckedBlock): string {
  const facts: string[] = [];
  const model = ctx.inherited(stage, 'model');
  if (model && !stage.config.has('model')) facts.push(`model: \`${model}\` (through \`from\`)`);
  const tokenizer = ctx.inherited(stage, 'tokenizer');
  if (tokenizer && !stage.config.has('tokenizer')) facts.push(`tokenizer: \`${tokenizer}\` (through \`from\`)`);
  const steps = trainingSteps(stage.config);
  if (steps !== undefined && stage.config.quantity('steps')?.dim !== 'steps') facts.push(`training length: ${steps.toLocaleString('en-US')} steps`);
  const memory = memoryFact(ctx, stage, model);
  if (memory) facts.push(memory);
  return facts.map((f) => `- ${f}`).join('\n');
}

function memoryFact(ctx: CheckContext, stage: CheckedBlock, model: string | undefined): string | undefined {
  const parallel = stage.config.sub('parallel');
  const cluster = clusterShape(ctx, stage);
  const shape = model ? ctx.shape(model) : undefined;
  const setup = trainingSetup(stage.config);
  if (!parallel || !cluster || !shape || !setup) return undefined;
  const m = estimateMemory(shape, parallelPlan(parallel), setup, cluster.shape);
  const verdict = m.total <= cluster.shape.memory ? 'fits' : 'does NOT fit';
  return (
    `memory per device on \`${cluster.name}\` (pipeline stage ${m.stage}): ${formatBytes(m.total)} of ${formatBytes(cluster.shape.memory)}, ${verdict} ` +
    `(weights ${formatBytes(m.weights)}, gradients ${formatBytes(m.gradients)}, optimizer ${formatBytes(m.optimizer)}, activations ${formatBytes(m.activations)})`
  );
}
