/**
 * The execution graph (IR): the only contract between the compiler and a runtime. A document holds
 * one graph per model and the experiment plan. Exact op semantics: specs/ir.md. Structure:
 * ir/graph.schema.json (validated with ajv), then `verify` (order, producers, shapes, use).
 */

/** 2: nodes carry `layer` (§1.6); version 1 documents (older checkpoints) are upgraded on load (upgrade.ts). */
export const IR_VERSION = 2;

/** A dimension: a number or a symbol bound at run time (`B` batch, `T` sequence length). */
export type Dim = number | 'B' | 'T';
export type DType = 'f32' | 'i32';

export interface SourceLoc {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

export type Init =
  | { readonly kind: 'normal'; readonly std: number }
  | { readonly kind: 'ones' }
  | { readonly kind: 'zeros' };

/**
 * A trainable parameter. With `stack = n`, the entry stands for n tensors named by replacing `{j}`
 * in `name` with 0..n-1 (the routed experts of a layer), each of `shape`; a runtime may hold them as
 * one [n, ...shape] tensor.
 */
export interface Param {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly init: Init;
  readonly stack?: number;
  /** weight decay applies (matrices); off for norms and biases */
  readonly decay: boolean;
}

/** Non-trainable state carried across steps (the router's selection bias). */
export interface State {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly init: Init;
}

export interface Value {
  readonly dtype: DType;
  readonly shape: readonly Dim[];
}

export type AttrValue = number | string | boolean | null | readonly AttrValue[] | { readonly [k: string]: AttrValue };

export interface Node {
  readonly op: string;
  readonly inputs: readonly string[];
  /** parameter names (or stacked-parameter names with `{j}`) the op reads, in the op's order */
  readonly params: readonly string[];
  /** state names the op reads (and a runtime may update between steps) */
  readonly state: readonly string[];
  readonly outputs: readonly string[];
  /** checked and typed by ir/attrs.ts (`readAttrs`, `attrsOf`) */
  readonly attrs: { readonly [k: string]: AttrValue };
  readonly loc: SourceLoc;
  /**
   * the decoder layer the node belongs to (main layers 0 … L−1, MTP module k is layer L + k − 1, as
   * in DeepSeek's checkpoints); absent for the model-level nodes (embedding, final norm, head, main
   * loss, loss sum). Readers use it instead of decoding value or parameter names.
   */
  readonly layer?: number;
}

export interface ModelGraph {
  readonly name: string;
  readonly loc: SourceLoc;
  /** the resolved architecture, for readers that want the numbers rather than the ops */
  readonly config: { readonly [k: string]: AttrValue };
  readonly inputs: { readonly [name: string]: Value };
  readonly outputs: readonly string[];
  readonly params: readonly Param[];
  readonly state: readonly State[];
  readonly values: { readonly [name: string]: Value };
  readonly nodes: readonly Node[];
}

export interface StagePlan {
  readonly name: string;
  readonly kind: 'pretrain' | 'sft' | 'grpo' | 'sample' | 'generate' | 'eval';
  readonly loc: SourceLoc;
  readonly model: string | null;
  /** the stage whose final checkpoint this one starts from, or a checkpoint path */
  readonly from: { readonly stage: string } | { readonly path: string } | null;
  /** stages that must finish first */
  readonly after: readonly string[];
  readonly hyper: { readonly [k: string]: AttrValue };
}

export interface PipelinePlan {
  readonly name: string;
  readonly loc: SourceLoc;
  /** every stage of the pipeline, in an order that respects `edges` */
  readonly order: readonly string[];
  readonly edges: readonly (readonly [string, string])[];
}

export interface Plan {
  readonly data: { readonly [name: string]: { readonly [k: string]: AttrValue } };
  readonly tokenizers: { readonly [name: string]: { readonly [k: string]: AttrValue } };
  readonly rewards: { readonly [name: string]: { readonly [k: string]: AttrValue } };
  readonly clusters: { readonly [name: string]: { readonly [k: string]: AttrValue } };
  readonly stages: readonly StagePlan[];
  readonly pipelines: readonly PipelinePlan[];
}

export interface GraphDocument {
  readonly ir_version: typeof IR_VERSION;
  /** the spec path relative to the working folder */
  readonly source: string;
  readonly models: readonly ModelGraph[];
  readonly plan: Plan;
}
