/**
 * The cuda decoder's plans, pure (tested in CI without a GPU): what each attention node caches per
 * token, the buffers a step of T new columns needs (the forward's, with cached attention in place of
 * the training attention and only the last column's logits), the packed step inputs the kernels read
 * from device memory (so one captured graph replays for every step), and the decode attention
 * kernel's shared memory (independent of the cache length: it takes the columns in chunks).
 */
import type { ModelGraph, Node } from '../../ir/types.js';
import { RuntimeError } from '../errors.js';
import { lifetimes, opBuffer } from './lifetimes.js';
import { F32, num, type BufferDecl, type CudaPrecision } from './ops/context.js';
import type { BufferNeed } from './plan.js';

export const ATTENTION_OPS: ReadonlySet<string> = new Set(['attention.gqa', 'attention.mla']);

export interface GqaDims {
  readonly kind: 'gqa';
  readonly H: number;
  readonly G: number;
  readonly d: number;
}

export interface MlaDims {
  readonly kind: 'mla';
  readonly H: number;
  readonly qRank: number;
  readonly R: number;
  readonly dn: number;
  readonly dr: number;
  readonly dv: number;
}

export function attentionDims(node: Node): GqaDims | MlaDims {
  if (node.op === 'attention.gqa') return { kind: 'gqa', H: num(node, 'heads'), G: num(node, 'kv_heads'), d: num(node, 'head_dim') };
  if (node.op === 'attention.mla') return { kind: 'mla', H: num(node, 'heads'), qRank: num(node, 'q_rank'), R: num(node, 'kv_rank'), dn: num(node, 'nope_dim'), dr: num(node, 'rope_dim'), dv: num(node, 'v_dim') };
  throw new RuntimeError(`${node.op} is not an attention op`);
}

/** One cached tensor of a layer: [B][heads][capacity][width] floats. */
export interface CachePart {
  readonly name: string;
  readonly heads: number;
  readonly width: number;
}

/**
 * What a layer caches per token: GQA the rotated key and the value of every kv head; MLA the
 * normalised latent c and the rotated key shared by the heads (DeepSeek-V2/V3's inference cache,
 * read through the absorbed up-projections) — as runtime/infer/cache.ts in latent mode.
 */
export function cacheParts(node: Node): CachePart[] {
  const a = attentionDims(node);
  if (a.kind === 'gqa') return [{ name: 'k', heads: a.G, width: a.d }, { name: 'v', heads: a.G, width: a.d }];
  return [{ name: 'latent', heads: 1, width: a.R }, { name: 'rope_key', heads: 1, width: a.dr }];
}

/** Floats cached per token per row over the attention nodes. */
export function cacheFloatsPerToken(nodes: readonly Node[]): number {
  return nodes.filter((n) => ATTENTION_OPS.has(n.op)).reduce((sum, n) => sum + cacheParts(n).reduce((s, p) => s + p.heads * p.width, 0), 0);
}

/** Bytes of every cache of a batch of `rows` at `capacity` columns, plus the validity of each column (int32). */
export function cacheBytes(nodes: readonly Node[], rows: number, capacity: number): number {
  return (cacheFloatsPerToken(nodes) + 1) * rows * capacity * F32;
}

/** The buffers cached attention needs for one step of `rows` = B·T new columns. */
export function attentionBuffers(node: Node, rows: number): BufferDecl[] {
  const a = attentionDims(node);
  const temp = (name: string, floats: number): BufferDecl => ({ name, bytes: rows * floats * F32, scope: 'temp' });
  if (a.kind === 'gqa') return [temp('qkv', (a.H + 2 * a.G) * a.d), temp('o', a.H * a.d)];
  return [
    ...(a.qRank > 0 ? [temp('qa', a.qRank), temp('qan', a.qRank), temp('rstd_q', 1)] : []),
    temp('q', a.H * (a.dn + a.dr)),
    temp('kva', a.R + a.dr),
    temp('cn', a.R),
    temp('rstd_kv', 1),
    temp('q_latent', a.H * a.R),
    temp('o_latent', a.H * a.R),
    temp('o', a.H * a.dv),
  ];
}

/** The lm_head's gathered last column [B, D], when a step has more than one column. */
export const LAST_COLUMN = 'last';

/**
 * Every buffer of a step of T new columns for B rows: the forward's (lifetimes.ts) with the training
 * attention's buffers replaced by the cached attention's, and `logits` one row per batch row (the
 * last column's: left padding puts every row's last token there) instead of B·T rows.
 */
export function decodeNeeds(model: ModelGraph, nodes: readonly Node[], B: number, T: number, precision: CudaPrecision): BufferNeed[] {
  const attention = new Set(nodes.flatMap((n, i) => (ATTENTION_OPS.has(n.op) ? [i] : [])));
  const head = nodes.findIndex((n) => n.outputs.includes('logits'));
  if (head < 0) throw new RuntimeError(`model ${model.name} produces no logits`);
  const vocab = model.values.logits?.shape.at(-1);
  if (typeof vocab !== 'number') throw new RuntimeError('the logits have no static vocabulary axis');
  const owner = (name: string): number => Number(name.slice(0, name.indexOf('/')));
  const needs = lifetimes(model, nodes, B, T, 'forward', ['logits'], precision)
    .filter((n) => !(n.name.includes('/') && attention.has(owner(n.name))))
    .map((n) => (n.name === 'logits' ? { ...n, bytes: B * vocab * F32 } : n));
  for (const i of attention) for (const b of attentionBuffers(nodes[i]!, B * T)) needs.push({ name: opBuffer(i, b.name), bytes: b.bytes, first: i, last: i });
  if (T > 1) {
    const width = model.values[nodes[head]!.inputs[0]!]?.shape.at(-1);
    if (typeof width !== 'number') throw new RuntimeError('the lm_head input has no static width');
    needs.push({ name: opBuffer(head, LAST_COLUMN), bytes: B * width * F32, first: head, last: head });
  }
  return needs;
}

/**
 * The model decoding runs: routed experts dropless, whatever the training capacity (inference drops
 * no tokens, DeepSeek-V3 and HF alike, and a capacity would make a row depend on the others), as
 * runtime/infer/decoder.ts.
 */
export function droplessGraph(model: ModelGraph): ModelGraph {
  return { ...model, nodes: model.nodes.map((n) => (n.op === 'moe.experts' && n.attrs.capacity !== null ? { ...n, attrs: { ...n.attrs, capacity: null } } : n)) };
}

/**
 * A step's inputs the kernels read (kernels/decode.cu): [at, positions (B·T), real (B·T)] as int32,
 * `at` the first cache column the step writes.
 */
export function stepInfo(at: number, positions: readonly (readonly number[])[], real: readonly (readonly boolean[])[]): Int32Array {
  const cells = positions.reduce((n, row) => n + row.length, 0);
  const info = new Int32Array(1 + 2 * cells);
  info[0] = at;
  let i = 1;
  for (const row of positions) for (const p of row) info[i++] = p;
  for (const row of real) for (const r of row) info[i++] = r ? 1 : 0;
  return info;
}

/** Columns per chunk of kernels/decode.cu's `decode_attention` (its DECODE_CHUNK): one chunk's scores sit in shared memory. */
export const DECODE_CHUNK = 1024;

/**
 * The floats one decode attention block keeps in shared memory: the query (both parts), one chunk's
 * scores and the running output — the same for any cache length (≤ 8.5 KiB at MLA's kv_rank 512).
 */
export function decodeSharedFloats(node: Node): number {
  const a = attentionDims(node);
  return a.kind === 'gqa' ? 2 * a.d + DECODE_CHUNK : 2 * a.R + a.dr + DECODE_CHUNK;
}
