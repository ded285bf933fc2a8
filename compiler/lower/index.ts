/**
 * A checked spec → its IR document: every model lowered to a graph, the plan lowered, then the
 * document is validated against the JSON Schema and verified. Refuses specs with errors.
 */
import { relative } from 'node:path';
import type { CheckResult } from '../check/index.js';
import { validateGraph } from '../../ir/validate.js';
import { verifyDocument } from '../../ir/verify.js';
import { IR_VERSION, type GraphDocument } from '../../ir/types.js';
import { locator } from './loc.js';
import { lowerModel } from './model.js';
import { lowerPlan } from './plan.js';

export class LoweringError extends Error {}

export function lowerSpec(checked: CheckResult, cwd: string): GraphDocument {
  if (checked.errorCount > 0) throw new LoweringError('the spec has errors; run `moe check` first');
  const ctx = checked.context;
  const locate = locator(checked.program, cwd);
  const models = ctx.ofKind('model').map((m) => lowerModel(m.name, m.config, m.decl.node.name.span, locate));
  const document: GraphDocument = {
    ir_version: IR_VERSION,
    source: relative(cwd, checked.program.entry),
    models,
    plan: lowerPlan(ctx, locate),
  };
  const problems = [...validateGraph(document), ...verifyDocument(document)];
  if (problems.length > 0) throw new Error(`the lowered graph is unsound (a compiler bug):\n${problems.join('\n')}`);
  return document;
}
