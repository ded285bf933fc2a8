/**
 * The op table: for every IR op, what it reads and how its output types follow from its inputs,
 * parameters and attributes. The verifier checks every node with it; specs/ir.md gives the math.
 * `infer` returns the output values, or a message saying what is inconsistent.
 */
import { readAttrs, type OpName } from './attrs.js';
import type { AttrValue, Dim, DType, Value } from './types.js';

export interface OpInput {
  readonly inputs: readonly Value[];
  readonly params: readonly (readonly number[])[];
  /** stack counts of the params (1 when not stacked) */
  readonly stacks: readonly number[];
  readonly state: readonly (readonly number[])[];
  readonly attrs: { readonly [k: string]: AttrValue };
}

export interface OpDef {
  readonly doc: string;
  /** number of inputs, params and outputs the op takes; params may vary by attrs (`undefined`) */
  readonly arity: { readonly inputs: number; readonly outputs: number; readonly params?: number; readonly state?: readonly number[] };
  readonly infer: (op: OpInput) => readonly Value[] | string;
}

const f32 = (shape: readonly Dim[]): Value => ({ dtype: 'f32', shape });
const i32 = (shape: readonly Dim[]): Value => ({ dtype: 'i32', shape });
const scalar: Value = f32([]);

function last(v: Value): Dim | undefined {
  return v.shape[v.shape.length - 1];
}

function sameShape(a: readonly (Dim | number)[], b: readonly (Dim | number)[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function expectDtype(v: Value | undefined, dtype: DType, what: string): string | undefined {
  if (!v) return `missing ${what}`;
  return v.dtype === dtype ? undefined : `${what} must be ${dtype}, found ${v.dtype}`;
}

function expectParam(actual: readonly number[] | undefined, expected: readonly number[], what: string): string | undefined {
  if (!actual) return `missing parameter ${what}`;
  return sameShape(actual, expected) ? undefined : `${what} has shape [${actual.join(', ')}], expected [${expected.join(', ')}]`;
}

function first(...checks: (string | undefined)[]): string | undefined {
  return checks.find((c) => c !== undefined);
}

/** `[B, T, D]` activations */
function bt(x: Value): readonly Dim[] {
  return x.shape.slice(0, -1);
}

/** Checked in one place, before any op's inference (attribute domains: attrs.ts). */
function withAttrs(op: OpName, def: OpDef): OpDef {
  return {
    ...def,
    infer(input) {
      try {
        readAttrs(op, input.attrs);
      } catch (error) {
        return (error as Error).message;
      }
      return def.infer(input);
    },
  };
}

/**
 * attention.gqa's parameter shapes in node order: q [H·d, D], k [G·d, D], v [G·d, D], o [D, H·d];
 * with qkv_bias the biases q [H·d], k [G·d], v [G·d]; with qk_norm the norm weights q, k
 * ([d] and [d] per head, [H·d] and [G·d] full width).
 */
export function gqaParamShapes(h: number, kv: number, hd: number, d: number, qkNorm: 'none' | 'head' | 'full', bias: boolean): number[][] {
  const shapes = [[h * hd, d], [kv * hd, d], [kv * hd, d], [d, h * hd]];
  if (bias) shapes.push([h * hd], [kv * hd], [kv * hd]);
  if (qkNorm === 'head') shapes.push([hd], [hd]);
  if (qkNorm === 'full') shapes.push([h * hd], [kv * hd]);
  return shapes;
}

const TABLE: { readonly [op in OpName]: OpDef } = {
  embedding: {
    doc: 'rows of the table for token ids (optionally shifted left by `shift` positions for MTP)',
    arity: { inputs: 1, outputs: 1, params: 1 },
    infer({ inputs: [ids], params: [w] }) {
      const err = first(expectDtype(ids, 'i32', 'ids'), w && w.length === 2 ? undefined : 'embedding table must be [vocab, dim]');
      return err ?? [f32([...ids!.shape, w![1]!])];
    },
  },
  rms_norm: {
    doc: 'x / sqrt(mean(x²) + eps) · weight over the last axis',
    arity: { inputs: 1, outputs: 1, params: 1 },
    infer({ inputs: [x], params: [w] }) {
      const err = first(expectDtype(x, 'f32', 'x'), expectParam(w, [last(x!) as number], 'norm weight'));
      return err ?? [x!];
    },
  },
  linear: {
    doc: 'x · Wᵀ (weight [out, in], no bias)',
    arity: { inputs: 1, outputs: 1, params: 1 },
    infer({ inputs: [x], params: [w] }) {
      const err = first(expectDtype(x, 'f32', 'x'), w && w[1] === last(x!) ? undefined : 'weight [out, in] must match the input width');
      return err ?? [f32([...bt(x!), w![0]!])];
    },
  },
  concat: {
    doc: 'concatenation along the last axis',
    arity: { inputs: 2, outputs: 1 },
    infer({ inputs: [a, b] }) {
      if (!a || !b || !sameShape(bt(a), bt(b))) return 'inputs differ before the last axis';
      const la = last(a);
      const lb = last(b);
      if (typeof la !== 'number' || typeof lb !== 'number') return 'the last axis must be static';
      return [f32([...bt(a), la + lb])];
    },
  },
  add: {
    doc: 'elementwise sum (the residual connection)',
    arity: { inputs: 2, outputs: 1 },
    infer({ inputs: [a, b] }) {
      return a && b && sameShape(a.shape, b.shape) && a.dtype === b.dtype ? [a] : 'inputs must have the same shape and dtype';
    },
  },
  'attention.mla': {
    doc: 'multi-head latent attention with decoupled rotary keys, causal',
    arity: { inputs: 1, outputs: 1 },
    infer({ inputs: [x], params, attrs }) {
      const { heads: h, q_rank: qr, kv_rank: kvr, nope_dim: nope, rope_dim: rope, v_dim: v } = readAttrs('attention.mla', attrs);
      const d = last(x!) as number;
      const q = qr > 0
        ? [[qr, d], [qr], [h * (nope + rope), qr]]
        : [[h * (nope + rope), d]];
      const expected = [...q, [kvr + rope, d], [kvr], [h * (nope + v), kvr], [d, h * v]];
      if (params.length !== expected.length) return `expected ${expected.length} parameters, found ${params.length}`;
      const err = first(expectDtype(x, 'f32', 'x'), ...expected.map((e, i) => expectParam(params[i], e, `parameter ${i}`)));
      return err ?? [x!];
    },
  },
  'attention.gqa': {
    doc: 'grouped-query attention with rotary embeddings (optional q/k/v biases, q/k norm, sliding window), causal',
    arity: { inputs: 1, outputs: 1 },
    infer({ inputs: [x], params, attrs }) {
      const { heads: h, kv_heads: kv, head_dim: hd, qk_norm: qkNorm, qkv_bias: bias } = readAttrs('attention.gqa', attrs);
      const d = last(x!) as number;
      if (h % kv !== 0) return 'kv_heads must divide heads';
      const expected = gqaParamShapes(h, kv, hd, d, qkNorm, bias);
      if (params.length !== expected.length) return `expected ${expected.length} parameters, found ${params.length}`;
      const err = first(expectDtype(x, 'f32', 'x'), ...expected.map((e, i) => expectParam(params[i], e, `parameter ${i}`)));
      return err ?? [x!];
    },
  },
  'ffn.swiglu': {
    doc: 'down(silu(gate(x)) · up(x))',
    arity: { inputs: 1, outputs: 1, params: 3 },
    infer({ inputs: [x], params: [gate, up, down] }) {
      const d = last(x!) as number;
      const hidden = gate?.[0] ?? NaN;
      const err = first(
        expectDtype(x, 'f32', 'x'),
        expectParam(gate, [hidden, d], 'gate_proj'),
        expectParam(up, [hidden, d], 'up_proj'),
        expectParam(down, [d, hidden], 'down_proj'),
      );
      return err ?? [x!];
    },
  },
  'moe.shared_gate': {
    doc: 'y · σ(x · wᵀ) with w [1, D]: the shared experts\' output y scaled per token by a sigmoid gate on the layer input x',
    arity: { inputs: 2, outputs: 1, params: 1 },
    infer({ inputs: [x, y], params: [w] }) {
      const d = last(x!) as number;
      const err = first(
        expectDtype(x, 'f32', 'x'),
        expectDtype(y, 'f32', 'y'),
        x && y && sameShape(x.shape, y.shape) ? undefined : 'x and y must have the same shape',
        expectParam(w, [1, d], 'shared_expert_gate'),
      );
      return err ?? [y!];
    },
  },
  'moe.router': {
    doc: 'scores, group-limited top-k selection (bias for selection only), weights',
    arity: { inputs: 1, outputs: 5, params: 1 },
    infer({ inputs: [x], params: [gate], state, attrs }) {
      const { experts: e, top_k: k } = readAttrs('moe.router', attrs);
      const d = last(x!) as number;
      const err = first(
        expectDtype(x, 'f32', 'x'),
        expectParam(gate, [e, d], 'gate.weight'),
        state.length === 0 || sameShape(state[0]!, [e]) ? undefined : 'e_score_correction_bias must be [experts]',
      );
      const lead = bt(x!);
      return err ?? [f32([...lead, k]), i32([...lead, k]), f32([...lead, e]), f32([...lead, e]), f32([e])];
    },
  },
  'moe.experts': {
    doc: 'each token through its selected experts, outputs weighted and summed (capacity or dropless)',
    arity: { inputs: 3, outputs: 1, params: 3 },
    infer({ inputs: [x, weights, indices], params: [gate, up, down], stacks, attrs }) {
      const { experts: e, top_k: k } = readAttrs('moe.experts', attrs);
      const d = last(x!) as number;
      const hidden = gate?.[0] ?? NaN;
      const lead = bt(x!);
      const err = first(
        expectDtype(x, 'f32', 'x'),
        expectDtype(weights, 'f32', 'weights'),
        expectDtype(indices, 'i32', 'indices'),
        weights && sameShape(weights.shape, [...lead, k]) ? undefined : 'weights must be [..., top_k]',
        indices && sameShape(indices.shape, [...lead, k]) ? undefined : 'indices must be [..., top_k]',
        stacks.every((s) => s === e) ? undefined : 'expert parameters must be stacked once per expert',
        expectParam(gate, [hidden, d], 'gate_proj'),
        expectParam(up, [hidden, d], 'up_proj'),
        expectParam(down, [d, hidden], 'down_proj'),
      );
      return err ?? [x!];
    },
  },
  'loss.balance': {
    doc: 'auxiliary load-balance loss (sequence-wise or batch-wise) times alpha',
    arity: { inputs: 2, outputs: 1 },
    infer({ inputs: [scores, indices] }) {
      return first(expectDtype(scores, 'f32', 'scores'), expectDtype(indices, 'i32', 'indices')) ?? [scalar];
    },
  },
  'loss.z': {
    doc: 'router z-loss: coef · mean(logsumexp(logits)²)',
    arity: { inputs: 1, outputs: 1 },
    infer({ inputs: [logits] }) {
      return expectDtype(logits, 'f32', 'logits') ?? [scalar];
    },
  },
  lm_head: {
    doc: 'logits = x · Wᵀ with W [vocab, dim] (the embedding table when tied)',
    arity: { inputs: 1, outputs: 1, params: 1 },
    infer({ inputs: [x], params: [w] }) {
      const err = first(expectDtype(x, 'f32', 'x'), w && w[1] === last(x!) ? undefined : 'head weight must be [vocab, dim]');
      return err ?? [f32([...bt(x!), w![0]!])];
    },
  },
  'loss.cross_entropy': {
    doc: 'mean next-token cross-entropy: position t predicts ids[t + shift], weighted by the loss mask',
    arity: { inputs: 3, outputs: 1 },
    infer({ inputs: [logits, ids, mask] }) {
      const err = first(expectDtype(logits, 'f32', 'logits'), expectDtype(ids, 'i32', 'ids'), expectDtype(mask, 'f32', 'loss_mask'));
      if (err) return err;
      return sameShape(bt(logits!), ids!.shape) && sameShape(ids!.shape, mask!.shape) ? [scalar] : 'logits, ids and mask must share [B, T]';
    },
  },
  'loss.sum': {
    doc: 'Σ weights[i] · inputs[i] over scalar losses',
    arity: { inputs: -1, outputs: 1 },
    infer({ inputs, attrs }) {
      if (readAttrs('loss.sum', attrs).weights.length !== inputs.length) return 'one weight per input';
      return inputs.every((v) => v.shape.length === 0) ? [scalar] : 'inputs must be scalars';
    },
  },
};

/** The op table, every op's attributes checked against attrs.ts before its inference runs. */
export const OPS: { readonly [op: string]: OpDef } = Object.fromEntries(
  Object.entries(TABLE).map(([op, def]) => [op, withAttrs(op as OpName, def)]),
);
