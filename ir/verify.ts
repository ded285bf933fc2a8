/**
 * The verifier, run after lowering and again by a runtime when loading: nodes in topological order,
 * one producer per value, every value's recorded type equal to what the op table infers, every
 * parameter and state entry used, outputs defined. Returns problems as text (empty = sound).
 */
import { OPS } from './ops.js';
import type { GraphDocument, ModelGraph, Value } from './types.js';

function sameValue(a: Value, b: Value): boolean {
  return a.dtype === b.dtype && a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
}

function show(v: Value): string {
  return `${v.dtype}[${v.shape.join(', ')}]`;
}

export function verifyModel(model: ModelGraph): string[] {
  const problems: string[] = [];
  const where = (i: number): string => {
    const n = model.nodes[i]!;
    return `${model.name} node ${i} (${n.op} at ${n.loc.file}:${n.loc.line}:${n.loc.col})`;
  };
  const params = new Map(model.params.map((p) => [p.name, p]));
  const state = new Map(model.state.map((s) => [s.name, s]));
  if (params.size !== model.params.length) problems.push(`${model.name}: a parameter is declared twice`);
  const defined = new Set(Object.keys(model.inputs));
  const usedParams = new Set<string>();
  const usedState = new Set<string>();
  model.nodes.forEach((node, i) => {
    const def = OPS[node.op];
    if (!def) {
      problems.push(`${where(i)}: unknown op`);
      return;
    }
    for (const input of node.inputs) if (!defined.has(input)) problems.push(`${where(i)}: reads ${input} before it is produced`);
    if (def.arity.inputs >= 0 && node.inputs.length !== def.arity.inputs) problems.push(`${where(i)}: takes ${def.arity.inputs} inputs`);
    if (node.outputs.length !== def.arity.outputs) problems.push(`${where(i)}: makes ${def.arity.outputs} outputs`);
    if (def.arity.params !== undefined && node.params.length !== def.arity.params) problems.push(`${where(i)}: takes ${def.arity.params} parameters`);
    const missing = [...node.params.filter((p) => !params.has(p)), ...node.state.filter((s) => !state.has(s))];
    if (missing.length) {
      problems.push(`${where(i)}: unknown parameter or state ${missing.join(', ')}`);
      return;
    }
    node.params.forEach((p) => usedParams.add(p));
    node.state.forEach((s) => usedState.add(s));
    const inputs = node.inputs.map((n) => model.values[n] ?? model.inputs[n]);
    if (inputs.some((v) => v === undefined)) {
      problems.push(`${where(i)}: an input has no recorded type`);
      return;
    }
    const inferred = def.infer({
      inputs: inputs as Value[],
      params: node.params.map((p) => params.get(p)!.shape),
      stacks: node.params.map((p) => params.get(p)!.stack ?? 1),
      state: node.state.map((s) => state.get(s)!.shape),
      attrs: node.attrs,
    });
    if (typeof inferred === 'string') {
      problems.push(`${where(i)}: ${inferred}`);
      return;
    }
    node.outputs.forEach((out, k) => {
      if (defined.has(out)) problems.push(`${where(i)}: ${out} already has a producer`);
      defined.add(out);
      const recorded = model.values[out];
      const expected = inferred[k]!;
      if (!recorded) problems.push(`${where(i)}: ${out} has no recorded type`);
      else if (!sameValue(recorded, expected)) problems.push(`${where(i)}: ${out} is recorded as ${show(recorded)}, the op makes ${show(expected)}`);
    });
  });
  for (const p of model.params) if (!usedParams.has(p.name)) problems.push(`${model.name}: parameter ${p.name} is never used`);
  for (const s of model.state) if (!usedState.has(s.name)) problems.push(`${model.name}: state ${s.name} is never used`);
  for (const o of model.outputs) if (!defined.has(o)) problems.push(`${model.name}: output ${o} is never produced`);
  return problems;
}

export function verifyDocument(document: GraphDocument): string[] {
  const problems = document.models.flatMap(verifyModel);
  const stages = new Set(document.plan.stages.map((s) => s.name));
  const models = new Set(document.models.map((m) => m.name));
  for (const s of document.plan.stages) {
    if (s.model !== null && !models.has(s.model)) problems.push(`stage ${s.name}: unknown model ${s.model}`);
    for (const a of s.after) if (!stages.has(a)) problems.push(`stage ${s.name}: depends on unknown stage ${a}`);
  }
  for (const p of document.plan.pipelines) {
    const position = new Map(p.order.map((n, i) => [n, i]));
    for (const [a, b] of p.edges) {
      if ((position.get(a) ?? Infinity) >= (position.get(b) ?? -Infinity)) problems.push(`pipeline ${p.name}: ${a} must run before ${b}`);
    }
    if (p.order.length !== new Set(p.edges.flat().concat(p.order)).size) problems.push(`pipeline ${p.name}: the order misses a stage (a cycle?)`);
  }
  return problems;
}
