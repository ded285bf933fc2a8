/**
 * The attribute table: every IR op's attributes (name, type, domain, one-line doc), the one
 * declaration that the verifier, the lowering, the runtime's kernels, the code generators and
 * specs/ir.md (generated tables, test/generated.test.ts) share. `AttrsOf<'moe.router'>` is an op's
 * typed view; `readAttrs` checks a node's attributes once and returns that view.
 *
 * The lowering writes every attribute, and the user-facing defaults live in the language schema
 * (compiler/schema), applied by the checker. The only defaults here are of attributes added after
 * graphs were first written to checkpoints (issue 20's `window`, `qk_norm`, `qkv_bias`, `eps` of
 * attention.gqa): absent, they read as the feature off, which is what those older graphs computed.
 * Cross-attribute constraints (top_k ≤ experts, kv_heads divides heads) stay with the ops.
 */
import { readFields, type AttrMap, type FieldSpec, type View } from './fields.js';
import type { Node } from './types.js';

const positiveInt = (doc: string) => ({ type: 'int', min: 1, doc }) as const;
const score = { type: 'enum', values: ['sigmoid', 'softmax'], doc: 'how router logits become affinities' } as const;
const softmaxScale = { type: 'num', min: 0, exclusiveMin: true, doc: 'the attention logit scale, computed by the lowering (§3.2)' } as const;
const rope = { type: 'rope', doc: 'rotary embedding: theta, scaling, interleaved (§3.2)' } as const;
const window = {
  type: 'int',
  min: 1,
  nullable: true,
  default: null,
  doc: 'sliding window W: query t sees keys u with t − W < u ≤ t; null = full causal attention (§3.3)',
} as const;

export const OP_ATTRS = {
  embedding: {
    shift: { type: 'int', min: 0, doc: 'rows are read for ids shifted left by this many positions (0 main model, k MTP module k)' },
  },
  rms_norm: {
    eps: { type: 'num', min: 0, exclusiveMin: true, doc: 'added to the mean square' },
  },
  linear: {},
  concat: {},
  add: {},
  'attention.mla': {
    heads: positiveInt('attention heads H'),
    q_rank: { type: 'int', min: 0, doc: 'query compression rank (0 = no query compression)' },
    kv_rank: positiveInt('key/value latent rank R'),
    nope_dim: positiveInt('per-head query/key width without rotary embedding dn'),
    rope_dim: { type: 'int', min: 2, doc: 'per-head rotary width dr' },
    v_dim: positiveInt('per-head value width dv'),
    eps: { type: 'num', min: 0, exclusiveMin: true, doc: 'eps of the two inner norms (the lowering writes 1e-6, as HF and DeepSeek do)' },
    softmax_scale: softmaxScale,
    rope,
    window,
  },
  'attention.gqa': {
    heads: positiveInt('query heads H'),
    kv_heads: positiveInt('key/value heads G (divides H; H for mha, 1 for mqa)'),
    head_dim: { type: 'int', min: 2, doc: 'per-head width d' },
    softmax_scale: softmaxScale,
    rope,
    qk_norm: {
      type: 'enum',
      values: ['none', 'head', 'full'],
      default: 'none',
      doc: 'RMSNorm of q and k before rotary: head = weights [d] over each head, full = weights [H·d] and [G·d] over the whole projection (§4.7)',
    },
    qkv_bias: { type: 'bool', default: false, doc: 'the q, k and v projections add biases [H·d], [G·d], [G·d] (o has none)' },
    eps: { type: 'num', min: 0, exclusiveMin: true, default: 1e-6, doc: 'eps of the q/k norms (the model\'s norm eps)' },
    window,
  },
  'ffn.swiglu': {},
  'moe.shared_gate': {},
  'moe.router': {
    experts: positiveInt('routed experts E'),
    top_k: positiveInt('experts per token K (≤ E)'),
    score,
    groups: positiveInt('expert groups G (divides E)'),
    top_groups: positiveInt('groups a token may route into G\' (≤ G, K ≤ G\'·E/G)'),
    normalize: { type: 'bool', doc: 'renormalise the selected weights to sum to 1' },
    scale: { type: 'num', min: 0, exclusiveMin: true, doc: 'multiplier on the routed weights' },
    bias_rate: {
      type: 'num',
      min: 0,
      nullable: true,
      doc: 'bias update speed γ when the node has the bias state, else null (read by the trainer, §5)',
    },
    group_score: {
      type: 'enum',
      values: ['top2_sum', 'max'],
      doc: 'how a group is scored for group-limited routing (top2_sum exactly when the node has the bias state)',
    },
  },
  'moe.experts': {
    experts: positiveInt('routed experts E'),
    top_k: positiveInt('experts per token K'),
    capacity: { type: 'num', min: 0, exclusiveMin: true, nullable: true, doc: 'capacity factor c, or null = dropless' },
  },
  'loss.balance': {
    kind: { type: 'enum', values: ['sequence', 'batch'], doc: 'balance over each sequence or over the whole evaluation' },
    alpha: { type: 'num', min: 0, doc: 'loss coefficient α' },
    experts: positiveInt('routed experts E'),
    top_k: positiveInt('experts per token K'),
    score,
  },
  'loss.z': {
    coef: { type: 'num', min: 0, exclusiveMin: true, doc: 'z-loss coefficient' },
  },
  lm_head: {},
  'loss.cross_entropy': {
    shift: positiveInt('position t predicts ids[t + shift] (1 main model, k + 1 MTP module k)'),
  },
  'loss.sum': {
    weights: { type: 'nums', doc: 'one weight per input' },
  },
} as const satisfies { readonly [op: string]: { readonly [name: string]: FieldSpec } };

export type OpName = keyof typeof OP_ATTRS;
/** The typed attributes of an op, derived from the table. */
export type AttrsOf<O extends OpName> = View<(typeof OP_ATTRS)[O]>;

export function isOpName(op: string): op is OpName {
  return Object.hasOwn(OP_ATTRS, op);
}

// Kernels run every step on the same attribute objects: check each object once.
const checked = new WeakMap<AttrMap, Map<string, unknown>>();

/** An op's attributes checked against the table (throws with the attribute's name and domain). */
export function readAttrs<O extends OpName>(op: O, attrs: AttrMap): AttrsOf<O> {
  let byOp = checked.get(attrs);
  if (!byOp) checked.set(attrs, (byOp = new Map()));
  let view = byOp.get(op) as AttrsOf<O> | undefined;
  if (!view) {
    view = readFields(OP_ATTRS[op], attrs, op) as AttrsOf<O>;
    byOp.set(op, view);
  }
  return view;
}

/** A node's typed attributes; the node must be of op `op`. */
export function attrsOf<O extends OpName>(node: Node, op: O): AttrsOf<O> {
  if (node.op !== op) throw new Error(`expected a ${op} node, found ${node.op}`);
  return readAttrs(op, node.attrs);
}
