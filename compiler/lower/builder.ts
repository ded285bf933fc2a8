/**
 * Builds a model graph node by node. Each node's output types come from the op table, so lowering
 * and verification share one definition of every op's typing; a node that does not type-checks is a
 * compiler bug and throws (checked specs always lower).
 */
import { isOpName, readAttrs } from '../../ir/attrs.js';
import { OPS } from '../../ir/ops.js';
import type { AttrValue, Init, ModelGraph, Node, Param, SourceLoc, State, Value } from '../../ir/types.js';

export class GraphBuilder {
  readonly params: Param[] = [];
  readonly state: State[] = [];
  readonly values: Record<string, Value> = {};
  readonly nodes: Node[] = [];
  private readonly paramIndex = new Map<string, Param>();
  /** the layer the nodes being built belong to (`inLayer`) */
  private layer: number | undefined;

  constructor(readonly inputs: Record<string, Value>) {
    Object.assign(this.values, inputs);
  }

  param(name: string, shape: readonly number[], init: Init, options: { stack?: number; decay?: boolean } = {}): string {
    if (!this.paramIndex.has(name)) {
      const p: Param = {
        name,
        shape,
        dtype: 'f32',
        init,
        ...(options.stack === undefined ? {} : { stack: options.stack }),
        decay: options.decay ?? shape.length >= 2,
      };
      this.params.push(p);
      this.paramIndex.set(name, p);
    }
    return name;
  }

  stateEntry(name: string, shape: readonly number[], init: Init): string {
    this.state.push({ name, shape, dtype: 'f32', init });
    return name;
  }

  /** Builds the nodes of decoder layer `index` (they carry `layer: index`). */
  inLayer<R>(index: number, build: () => R): R {
    const outer = this.layer;
    this.layer = index;
    try {
      return build();
    } finally {
      this.layer = outer;
    }
  }

  node(
    op: string,
    inputs: readonly string[],
    outputs: readonly string[],
    loc: SourceLoc,
    options: { params?: readonly string[]; state?: readonly string[]; attrs?: Record<string, AttrValue> } = {},
  ): string[] {
    const def = OPS[op];
    if (!def) throw new Error(`lowering produced unknown op ${op}`);
    if (isOpName(op)) readAttrs(op, options.attrs ?? {});
    const params = options.params ?? [];
    const state = options.state ?? [];
    const attrs = options.attrs ?? {};
    const inferred = def.infer({
      inputs: inputs.map((i) => this.values[i]!),
      params: params.map((p) => this.paramIndex.get(p)!.shape),
      stacks: params.map((p) => this.paramIndex.get(p)!.stack ?? 1),
      state: state.map((s) => this.state.find((x) => x.name === s)!.shape),
      attrs,
    });
    if (typeof inferred === 'string') throw new Error(`lowering ${op} -> ${outputs.join(', ')}: ${inferred}`);
    outputs.forEach((o, i) => {
      if (this.values[o]) throw new Error(`lowering defined ${o} twice`);
      this.values[o] = inferred[i]!;
    });
    this.nodes.push({ op, inputs, params, state, outputs, attrs, loc, ...(this.layer === undefined ? {} : { layer: this.layer }) });
    return [...outputs];
  }

  build(name: string, loc: SourceLoc, config: ModelGraph['config'], outputs: readonly string[]): ModelGraph {
    return {
      name,
      loc,
      config,
      inputs: Object.fromEntries(Object.keys(this.inputs).map((k) => [k, this.values[k]!])),
      outputs,
      params: this.params,
      state: this.state,
      values: this.values,
      nodes: this.nodes,
    };
  }
}
