/**
 * The block structure of a lowered model, read back from its graph: per transformer layer the
 * attention node and the feed-forward (dense SwiGLU or MoE with its router settings), the MTP
 * modules, the head and the losses. The emitters read numbers from here, never from the `.moe`.
 *
 * Nodes are grouped by their `layer` (the IR field; names carry no meaning); model-level nodes have none.
 */
import { attrsOf, readAttrs, type AttrsOf } from './attrs.js';
import type { RopeConfig } from './rope.js';
import type { Dim, ModelGraph, Node, Param } from './types.js';

/** MLA's sizes, as its attributes state them (the kernels and the HF importer read the same ones). */
export interface MlaDims {
  readonly heads: number;
  /** q_lora_rank; 0 means no query compression (a plain q_proj, as in DeepSeek-V2-Lite). */
  readonly qRank: number;
  readonly kvRank: number;
  readonly nopeDim: number;
  readonly ropeDim: number;
  readonly vDim: number;
}

/** The sizes of an attention.mla node's attributes. */
export function mlaDims(a: AttrsOf<'attention.mla'>): MlaDims {
  return { heads: a.heads, qRank: a.q_rank, kvRank: a.kv_rank, nopeDim: a.nope_dim, ropeDim: a.rope_dim, vDim: a.v_dim };
}

/** An attention's shape: what the statistics (compiler/stats) and the emitters read. */
export type AttentionShape =
  | ({ readonly kind: 'mla' } & MlaDims)
  | {
      /** GQA; MHA is kvHeads = heads, MQA is kvHeads = 1. */
      readonly kind: 'gqa';
      readonly heads: number;
      readonly kvHeads: number;
      readonly headDim: number;
    };

export type MlaAttention = Extract<AttentionShape, { readonly kind: 'mla' }>;
export type GqaAttention = Extract<AttentionShape, { readonly kind: 'gqa' }>;

/**
 * What an attention node adds to its shape (issue 20): q/k norm and q/k/v biases (GQA only; MLA
 * has neither) and the sliding window, which may differ from layer to layer.
 */
export interface AttentionFeatures {
  /** RMSNorm of q and k before rotary: per head (weights [headDim]) or full width ([heads·headDim], [kvHeads·headDim]) */
  readonly qkNorm: 'none' | 'head' | 'full';
  /** biases on the q, k and v projections */
  readonly qkvBias: boolean;
  /** sliding window, null for full causal attention */
  readonly window: number | null;
}

/** The rotary settings of the model's attention, as the IR's `rope` attribute states them. */
export type Rope = RopeConfig;

export interface DenseFfn {
  readonly kind: 'dense';
  readonly hidden: number;
}

/** How a MoE layer routes, as its router's attributes state it (the HF importer and the test references read the same). */
export interface RouterSettings {
  readonly experts: number;
  readonly topK: number;
  readonly score: 'sigmoid' | 'softmax';
  readonly groups: number;
  readonly topGroups: number;
  readonly normalize: boolean;
  readonly scale: number;
}

export interface MoeFfn extends RouterSettings {
  readonly kind: 'moe';
  /** intermediate size of one routed expert */
  readonly hidden: number;
  /** shared experts: `sharedHidden / hidden` when that divides, else 1 (one shared expert of its own width, Qwen2-MoE) */
  readonly shared: number;
  /** units of the shared experts' one SwiGLU (`hidden × shared` unless the spec set `shared_hidden`); 0 without */
  readonly sharedHidden: number;
  /** the shared experts' output is scaled by σ(x·w) (Qwen2-MoE's shared_expert_gate) */
  readonly sharedGate: boolean;
  /** how a group is scored for group-limited routing: the sum of its top-2 scores, or its max */
  readonly groupScore: 'top2_sum' | 'max';
  /** selection-bias update rate, null without bias balancing */
  readonly biasRate: number | null;
  /** capacity factor, null when dropless */
  readonly capacity: number | null;
  /** the auxiliary balance loss, null when there is none */
  readonly balance: { readonly kind: string; readonly alpha: number } | null;
  /** z-loss coefficient, 0 when off */
  readonly zLoss: number;
}

export type Ffn = DenseFfn | MoeFfn;

export interface Block {
  /** the HF layer index (`model.layers.N`) */
  readonly index: number;
  readonly attention: MlaAttention | GqaAttention;
  readonly features: AttentionFeatures;
  readonly ffn: Ffn;
  /** the residual stream entering the block */
  readonly input: string;
  /** the residual stream leaving the block */
  readonly output: string;
}

export interface MtpModule {
  /** 1-based depth k: predicts the token k + 1 positions ahead */
  readonly depth: number;
  readonly block: Block;
  /** the hidden state the module reads (the previous module's, or the main model's before its final norm) */
  readonly previous: string;
  /** the module's output after its shared-head norm */
  readonly final: string;
  readonly logits: string;
  readonly loss: string;
}

export interface LossTerm {
  readonly value: string;
  readonly weight: number;
}

export interface ModelStructure {
  readonly graph: ModelGraph;
  readonly vocab: number;
  readonly dim: number;
  readonly context: number;
  readonly tied: boolean;
  readonly normEps: number;
  readonly initStd: number;
  readonly rope: Rope;
  readonly embedding: Node;
  /** the main layers in order (MTP blocks excluded) */
  readonly layers: readonly Block[];
  readonly mtp: readonly MtpModule[];
  readonly mtpWeight: number;
  readonly finalNorm: Node;
  readonly head: Node;
  readonly mainLoss: Node;
  readonly totalLoss: Node;
  readonly lossTerms: readonly LossTerm[];
}

function readFeatures(node: Node): AttentionFeatures {
  if (node.op === 'attention.mla') return { qkNorm: 'none', qkvBias: false, window: attrsOf(node, 'attention.mla').window };
  const a = attrsOf(node, 'attention.gqa');
  return { qkNorm: a.qk_norm, qkvBias: a.qkv_bias, window: a.window };
}

function readAttention(node: Node): MlaAttention | GqaAttention {
  if (node.op === 'attention.mla') return { kind: 'mla', ...mlaDims(attrsOf(node, 'attention.mla')) };
  const a = attrsOf(node, 'attention.gqa');
  return { kind: 'gqa', heads: a.heads, kvHeads: a.kv_heads, headDim: a.head_dim };
}

/** The structure of one model graph; throws on a graph that does not have the lowering's shape. */
/** How many shared experts a shared MLP of `width` units stands for: whole routed-expert widths, else one of its own width. */
function sharedCount(width: number, hidden: number): number {
  if (width === 0 || hidden === 0) return 0;
  return width % hidden === 0 ? width / hidden : 1;
}

export function modelStructure(graph: ModelGraph): ModelStructure {
  const params = new Map<string, Param>(graph.params.map((p) => [p.name, p]));
  const shape = (name: string | undefined): readonly number[] => (name ? (params.get(name)?.shape ?? []) : []);
  const config = graph.config;
  const cfg = (key: string, fallback: number): number => (typeof config[key] === 'number' ? config[key] : fallback);
  const layerCount = cfg('layers', 0);

  const buckets = new Map<number, Node[]>();
  const unassigned: Node[] = [];
  for (const node of graph.nodes) {
    if (node.layer === undefined) {
      unassigned.push(node);
      continue;
    }
    let bucket = buckets.get(node.layer);
    if (!bucket) buckets.set(node.layer, (bucket = []));
    bucket.push(node);
  }

  const block = (index: number): Block => {
    const nodes = buckets.get(index) ?? [];
    const attention = nodes.find((n) => n.op.startsWith('attention.'));
    if (!attention) throw new Error(`layer ${index} has no attention node`);
    const norm = nodes.find((n) => n.op === 'rms_norm' && n.params[0]?.endsWith('.input_layernorm.weight'));
    const router = nodes.find((n) => n.op === 'moe.router');
    const experts = nodes.find((n) => n.op === 'moe.experts');
    let ffn: Ffn;
    if (router && experts) {
      const shared = nodes.find((n) => n.op === 'ffn.swiglu' && n.params[0]?.includes('.shared_experts.'));
      const hidden = shape(experts.params[0])[0] ?? 0;
      const sharedHidden = shared ? (shape(shared.params[0])[0] ?? 0) : 0;
      const balance = nodes.find((n) => n.op === 'loss.balance');
      const z = nodes.find((n) => n.op === 'loss.z');
      const r = attrsOf(router, 'moe.router');
      const b = balance && attrsOf(balance, 'loss.balance');
      ffn = {
        kind: 'moe',
        experts: r.experts,
        topK: r.top_k,
        hidden,
        shared: sharedCount(sharedHidden, hidden),
        sharedHidden,
        sharedGate: nodes.some((n) => n.op === 'moe.shared_gate'),
        score: r.score,
        groups: r.groups,
        topGroups: r.top_groups,
        groupScore: r.group_score,
        normalize: r.normalize,
        scale: r.scale,
        biasRate: r.bias_rate,
        capacity: attrsOf(experts, 'moe.experts').capacity,
        balance: b ? { kind: b.kind, alpha: b.alpha } : null,
        // a graph without a z-loss node has no z-loss
        zLoss: z ? attrsOf(z, 'loss.z').coef : 0,
      };
    } else {
      const dense = nodes.find((n) => n.op === 'ffn.swiglu');
      if (!dense) throw new Error(`layer ${index} has no feed-forward node`);
      ffn = { kind: 'dense', hidden: shape(dense.params[0])[0] ?? 0 };
    }
    const output = nodes.findLast((n) => n.op === 'add')?.outputs[0] ?? '';
    return { index, attention: readAttention(attention), features: readFeatures(attention), ffn, input: norm?.inputs[0] ?? attention.inputs[0] ?? '', output };
  };

  const layers: Block[] = [];
  for (let i = 0; i < layerCount; i++) layers.push(block(i));

  const find = (pred: (n: Node) => boolean, what: string): Node => {
    const n = unassigned.find(pred);
    if (!n) throw new Error(`model ${graph.name} has no ${what}`);
    return n;
  };
  const embedding = find((n) => n.op === 'embedding' && attrsOf(n, 'embedding').shift === 0, 'embedding');
  const finalNorm = find((n) => n.op === 'rms_norm' && n.params[0] === 'model.norm.weight', 'final norm');
  const head = find((n) => n.op === 'lm_head' && n.inputs[0] === finalNorm.outputs[0], 'LM head');
  const mainLoss = find((n) => n.op === 'loss.cross_entropy' && n.inputs[0] === head.outputs[0], 'main loss');
  const totalLoss = find((n) => n.op === 'loss.sum', 'total loss');
  const weights = attrsOf(totalLoss, 'loss.sum').weights;
  const lossTerms = totalLoss.inputs.map((value, i) => ({ value, weight: weights[i]! }));

  const mtp: MtpModule[] = [];
  const depth = cfg('mtp_depth', 0);
  let previous = finalNorm.inputs[0] ?? '';
  for (let k = 1; k <= depth; k++) {
    const index = layerCount + k - 1;
    const b = block(index);
    const nodes = buckets.get(index) ?? [];
    const headNorm = nodes.find((n) => n.op === 'rms_norm' && n.params[0]?.endsWith('.shared_head.norm.weight'));
    const eh = nodes.find((n) => n.op === 'linear');
    const final = headNorm?.outputs[0] ?? '';
    const mtpHead = nodes.find((n) => n.op === 'lm_head' && n.inputs[0] === final);
    const logits = mtpHead?.outputs[0] ?? '';
    const loss = nodes.find((n) => n.op === 'loss.cross_entropy' && n.inputs[0] === logits)?.outputs[0] ?? '';
    mtp.push({ depth: k, block: { ...b, input: eh?.outputs[0] ?? b.input }, previous, final, logits, loss });
    previous = b.output;
  }

  const firstAttention = graph.nodes.find((n) => n.op.startsWith('attention.'));
  return {
    graph,
    vocab: cfg('vocab', shape(embedding.params[0])[0] ?? 0),
    dim: cfg('dim', shape(embedding.params[0])[1] ?? 0),
    context: cfg('context', 0),
    tied: config.tie_embeddings === true,
    normEps: cfg('norm_eps', 1e-6),
    initStd: cfg('init_std', 0.02),
    rope: firstAttention ? readAttrs(firstAttention.op as 'attention.mla' | 'attention.gqa', firstAttention.attrs).rope : { theta: 10000, scaling: { kind: 'none' }, interleaved: false },
    embedding,
    layers,
    mtp,
    mtpWeight: cfg('mtp_weight', 0),
    finalNorm,
    head,
    mainLoss,
    totalLoss,
    lossTerms,
  };
}

/** `[B, T, 7168]` */
export function formatShape(shape: readonly Dim[]): string {
  return `[${shape.join(', ')}]`;
}

/** Runs of consecutive equal items: [first index, last index] pairs. */
export function runs<T>(items: readonly T[], same: (a: T, b: T) => boolean): [number, number][] {
  const out: [number, number][] = [];
  items.forEach((item, i) => {
    const last = out[out.length - 1];
    if (last && same(items[last[1]]!, item)) last[1] = i;
    else out.push([i, i]);
  });
  return out;
}

/** A model's MoE layers, checked to be all alike: the common settings or a reason they differ. */
export function uniformMoe(layers: readonly Block[]): { ok: true; moe: MoeFfn | null } | { ok: false; reason: string } {
  const moes = layers.filter((l): l is Block & { ffn: MoeFfn } => l.ffn.kind === 'moe');
  const first = moes[0];
  if (!first) return { ok: true, moe: null };
  const describe = (m: MoeFfn): string => `${m.experts} experts, top-${m.topK}, hidden ${m.hidden}`;
  for (const l of moes) {
    const a = first.ffn;
    const b = l.ffn;
    if (a.experts !== b.experts || a.topK !== b.topK || a.hidden !== b.hidden) {
      return {
        ok: false,
        reason: `every MoE layer must have the same experts/top_k/hidden (layer ${first.index}: ${describe(a)}; layer ${l.index}: ${describe(b)})`,
      };
    }
    if (a.sharedHidden !== b.sharedHidden || a.sharedGate !== b.sharedGate) {
      const describeShared = (m: MoeFfn): string => `${m.sharedHidden} wide${m.sharedGate ? ' gated' : ''}`;
      return {
        ok: false,
        reason: `every MoE layer must have the same shared experts (layer ${first.index}: ${describeShared(a)}; layer ${l.index}: ${describeShared(b)})`,
      };
    }
    const differs = (['score', 'groups', 'topGroups', 'groupScore', 'normalize', 'scale', 'biasRate', 'capacity', 'zLoss'] as const).find((k) => a[k] !== b[k]);
    const balanceDiffers = JSON.stringify(a.balance) !== JSON.stringify(b.balance);
    if (differs || balanceDiffers) {
      return {
        ok: false,
        reason: `every MoE layer must have the same router (layers ${first.index} and ${l.index} differ in ${differs ?? 'the balance loss'})`,
      };
    }
  }
  return { ok: true, moe: first.ffn };
}

/** A model's dense layers, checked to share one hidden size. */
export function uniformDense(layers: readonly Block[]): { ok: true; hidden: number | null } | { ok: false; reason: string } {
  const dense = layers.filter((l) => l.ffn.kind === 'dense');
  const first = dense[0];
  if (!first || first.ffn.kind !== 'dense') return { ok: true, hidden: null };
  const hidden = first.ffn.hidden;
  const other = dense.find((l) => l.ffn.kind === 'dense' && l.ffn.hidden !== hidden);
  if (other && other.ffn.kind === 'dense') {
    return {
      ok: false,
      reason: `every dense layer must have the same hidden size (layer ${first.index}: ${hidden}; layer ${other.index}: ${other.ffn.hidden})`,
    };
  }
  return { ok: true, hidden };
}

/** The spec's base name: `examples/deepseek-v3.moe` → `deepseek-v3`. */
export function specName(source: string): string {
  const base = source.split(/[\\/]/).pop() ?? source;
  return base.endsWith('.moe') ? base.slice(0, -'.moe'.length) : base;
}
