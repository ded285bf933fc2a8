/**
 * `moe.experts` (specs/ir.md §4.10): every token through its selected routed experts (SwiGLU),
 * the outputs weighted by the router weights and summed; a capacity factor drops the assignments
 * that overflow an expert, in token order; dropless keeps them all.
 *
 * Dispatch, with N = B·T tokens, A = N·K assignments (a = n·K + k, token order then k), and every
 * step a whole-tensor op (no per-expert or per-token JavaScript loop):
 *
 *   1. plan (integer, off the gradient tape): pos[a] = how many earlier assignments went to the
 *      same expert = exclusive cumsum over a of one-hot(indices) [A, E], read at the assignment's
 *      expert. Since a token's K experts are distinct, the earlier assignments to expert e are
 *      exactly the earlier tokens that chose e, so pos[a] < C is the spec's `keep` (capacity C; ∞
 *      when dropless). A kept assignment owns slot e·S + pos[a] of a buffer of E·S slots
 *      (S = slots per expert, below); a dropped one points at a zero "dump" row E·S. The inverse
 *      map slot → assignment (one ScatterNd) gives slot → token (÷ K); empty slots read a zero row.
 *   2. dispatch: gather the tokens into [E, S, D].
 *   3. one batched SwiGLU over the experts: tf.matMul of [E, S, D] with the stacked [E, H, D]
 *      gate/up weights, silu(g)·u, then with the stacked [E, D, H] down weights → [E, S, D].
 *   4. combine: gather each assignment's output row [A, D] (the dump row is zero, so dropped pairs
 *      add nothing and get no weight gradient), then y[n] = Σ_k w[n,k]·row[n,k] as a batched
 *      [N, 1, K] × [N, K, D] matmul (fp32).
 *
 * Gradients flow to x, weights and the three stacked parameters through tfjs autograd. The two
 * gathers are `gatherRows`, whose backward pass is the opposite gather through the inverse map
 * (dispatch and combine are each other's transpose), so the weighted scatter-add back to the
 * tokens is a gather plus a sum over k: O(A·D), no UnsortedSegmentSum (which tf.gather's own
 * gradient uses: O(rows · A · D) on tfjs-backend-cpu, absent from tfjs-backend-wasm). The one-hot
 * plan takes A·E int32s of scratch memory.
 *
 * Slots per expert S. With capacity, S = min(C, N) (no expert can receive more than N, one per
 * token; measured: min(C, max load)). Dropless, the static bound is S = N: no read-back, a fixed
 * shape, but a buffer of E·N·(D + 3H) floats and E/K times the expert FLOPs of a perfectly packed
 * layout (every expert row is computed for N slots, most of them empty). Two alternatives, chosen by
 * `setExpertSlots`:
 *   - measured: S = the largest per-expert load of this evaluation (≤ N), read back to the host:
 *     buffers as small as the routing allows, at the cost of a read and a data-dependent shape;
 *   - grouped (dropless only, runtime/ops/moe-grouped.ts): the assignments sorted by expert into
 *     tiles of T rows, each tile multiplied by a copy of its expert's weights: ≈ A + E·T rows for
 *     any routing, static shapes and no read, so a captured step graph replays it.
 *   - assigned (dropless only, runtime/ops/moe-assigned.ts): no dispatch plan and no gathers; each
 *     assignment is a one-row batch multiplied by its expert's weights where they are stored. For a
 *     few tokens.
 * `auto` (the default) measures on backends whose tensors live in host memory (cpu, wasm,
 * tensorflow/tfjs-node), where the read is free. On GPU backends (webgpu, webgl), where a read would
 * stall the queue and break graph capture, it takes the per-assignment layout while N·K ≤ E
 * (decoding a few tokens), the grouped layout where that computes fewer rows than the static bound
 * (training-sized batches), and the static bound otherwise; the last two run in token chunks that
 * keep every buffer under a limit (chunkTokens). Results are identical either way.
 */
import { readAttrs } from '../../ir/attrs.js';
import { backendCapabilities } from '../backend/registry.js';
import { tf } from '../tf.js';
import type { Kernel } from './kernel.js';
import { detached, expectDtype, gatherRows, sameShape, shapeText, size } from './moe-common.js';
import { assignedMatMul } from './moe-assigned.js';
import { gated } from './swiglu.js';
import { groupedMatMul, tileCount, tileLayout, tileRows } from './moe-grouped.js';

/** How dispatch lays out the routed rows (see the module comment). */
export type ExpertSlots = 'auto' | 'static' | 'measured' | 'grouped' | 'assigned';

let slotsMode: ExpertSlots = 'auto';

/** Chooses the dispatch layout policy for every later moe.experts evaluation; returns the previous one. */
export function setExpertSlots(mode: ExpertSlots): ExpertSlots {
  const previous = slotsMode;
  slotsMode = mode;
  return previous;
}

/** The largest dispatch buffer (static [E, S, width], grouped [R, width] or tile weights) built in one piece (see chunkTokens). */
let bufferLimitBytes = 512 * 2 ** 20;

/** Sets that limit (tests use a small one to exercise chunking); returns the previous one. */
export function setDispatchBufferLimit(bytes: number): number {
  const previous = bufferLimitBytes;
  bufferLimitBytes = bytes;
  return previous;
}

function measureLoad(): boolean {
  return slotsMode === 'measured' || (slotsMode === 'auto' && backendCapabilities().hostMemory);
}

/**
 * Whether dropless dispatch of N tokens takes the grouped layout: always when asked for, and under
 * `auto` on GPU backends when its rows (plus the per-tile weight copies, counted as much again) are
 * fewer than the static bound's E·N, i.e. for training-sized batches but not single-token decoding.
 */
function useGrouped(N: number, K: number, E: number): boolean {
  if (slotsMode === 'grouped') return true;
  if (slotsMode !== 'auto' || measureLoad()) return false;
  const A = N * K;
  const T = tileRows(A, E);
  return 2 * tileCount(A, E, T) * T < E * N;
}

/**
 * Whether dropless dispatch of N tokens takes the per-assignment layout (moe-assigned.ts): when
 * asked for, and under `auto` on GPU backends when the N·K assignments are at most the E experts
 * (decoding a few tokens), where it reads fewer expert weights than any layout with a row per
 * expert and skips the dispatch plan.
 */
function useAssigned(N: number, K: number, E: number): boolean {
  if (slotsMode === 'assigned') return true;
  return slotsMode === 'auto' && !measureLoad() && N * K <= E;
}

/** ceil(c · N · K / E), the spec's per-expert capacity (evaluated left to right in doubles). */
export function expertCapacity(c: number, tokens: number, topK: number, experts: number): number {
  return Math.ceil((c * tokens * topK) / experts);
}

export const moeExperts: Kernel = ({ inputs, params, attrs }) => {
  const { experts: E, top_k: K, capacity: c } = readAttrs('moe.experts', attrs);
  if (inputs.length !== 3 || params.length !== 3) throw new Error('moe.experts takes three inputs and three stacked parameters');
  const [x, weights, indices] = inputs as [tf.Tensor, tf.Tensor, tf.Tensor];
  const [gate, up, down] = params as [tf.Tensor, tf.Tensor, tf.Tensor];
  expectDtype(x, 'float32', 'x');
  expectDtype(weights, 'float32', 'weights');
  expectDtype(indices, 'int32', 'indices');
  if (x.rank < 1) throw new Error('x must have a feature axis');
  const lead = x.shape.slice(0, -1);
  const D = x.shape[x.rank - 1]!;
  if (!sameShape(weights.shape, [...lead, K])) throw new Error(`weights must be ${shapeText([...lead, K])}, got ${shapeText(weights.shape)}`);
  if (!sameShape(indices.shape, [...lead, K])) throw new Error(`indices must be ${shapeText([...lead, K])}, got ${shapeText(indices.shape)}`);
  const H = gate.shape[1] ?? NaN;
  const expected: [tf.Tensor, number[], string][] = [
    [gate, [E, H, D], 'gate_proj'],
    [up, [E, H, D], 'up_proj'],
    [down, [E, D, H], 'down_proj'],
  ];
  for (const [p, shape, name] of expected) {
    expectDtype(p, 'float32', name);
    if (!sameShape(p.shape, shape)) throw new Error(`${name} must be ${shapeText(shape)} (stacked over ${E} experts), got ${shapeText(p.shape)}`);
  }

  const N = size(lead);
  const assigned = c === null && useAssigned(N, K, E);
  const chunk = c === null && !measureLoad() && !assigned ? chunkTokens(N, K, E, D, H) : N;
  const y = tf.tidy(() => {
    const rows = tf.reshape(x, [N, D]);
    const w = tf.reshape(weights, [N, K]);
    const idx = tf.reshape(indices, [N, K]);
    if (assigned) return tf.reshape(assignedCombine(rows, w, idx, gate, up, down), x.shape);
    if (chunk >= N) return tf.reshape(dispatchCombine(rows, w, idx, E, K, c, gate, up, down), x.shape);
    // dropless: a token's output depends on its own routing only, so token chunks are exact
    const parts: tf.Tensor[] = [];
    for (let start = 0; start < N; start += chunk) {
      const n = Math.min(chunk, N - start);
      const slice = (t: tf.Tensor): tf.Tensor => tf.slice(t, [start, 0], [n, t.shape[1]!]);
      parts.push(dispatchCombine(slice(rows), slice(w), slice(idx), E, K, c, gate, up, down));
    }
    return tf.reshape(tf.concat(parts, 0), x.shape);
  });
  return [y];
};

/**
 * Tokens per chunk of dropless dispatch on a GPU backend, where the layout has a static bound: each
 * buffer it builds must stay under the buffer limit. Unchunked, the static bound's [E, N, width] is
 * 1 GiB for a 0.5B model with 64 experts, 4096 tokens and width 1024, more than WebGPU binds (the
 * step's work was dropped with "Invalid Buffer"). Reading the load back instead is not possible
 * inside a synchronous kernel on webgpu in Node (dataSync needs an OffscreenCanvas).
 */
function chunkTokens(N: number, K: number, E: number, D: number, H: number): number {
  const width = Math.max(D, H);
  const fits = (n: number): boolean => {
    if (!useGrouped(n, K, E)) return 4 * E * n * width <= bufferLimitBytes;
    const T = tileRows(n * K, E);
    const tiles = tileCount(n * K, E, T);
    return 4 * tiles * T * width <= bufferLimitBytes && 4 * tiles * H * D <= bufferLimitBytes;
  };
  let n = N;
  while (n > 1 && !fits(n)) n = Math.ceil(n / 2);
  return n;
}

/** Steps 1–4 of the module comment for N tokens: x [N, D], weights and indices [N, K] → y [N, D]. */
function dispatchCombine(
  x: tf.Tensor,
  weights: tf.Tensor,
  indices: tf.Tensor,
  E: number,
  K: number,
  c: number | null,
  gate: tf.Tensor,
  up: tf.Tensor,
  down: tf.Tensor,
): tf.Tensor {
  const [N, D] = x.shape as [number, number];
  const A = N * K;
  // capacity in slots; dropless can never exceed N (a token holds at most one slot per expert)
  const capacity = c === null ? N : Math.min(expertCapacity(c, N, K, E), N);

  const y = tf.tidy(() => {
    const expertOf = tf.reshape(indices, [A]) as tf.Tensor1D;
    // pos[a]: earlier assignments to the same expert (exclusive cumsum of the one-hot, read at e)
    const [pos, load] = detached(() => {
      const oneHot = tf.oneHot(expertOf, E); // [A, E] int32
      return [tf.sum(tf.mul(tf.cumsum(oneHot, 0, true), oneHot), 1), tf.sum(oneHot, 0)];
    }) as [tf.Tensor1D, tf.Tensor1D];
    const layout = c === null && useGrouped(N, K, E) ? groupedLayout(expertOf, pos, load) : expertLayout(expertOf, pos, load, E, capacity);
    const { rows, slot } = layout;

    // slot → assignment (A = empty), → token (A / K = N = empty): one ScatterNd of assignment + 1
    // (0 = empty; dropped assignments all add 0 to the dump row)
    const [assignmentOfSlot, tokenOfSlot] = detached(() => {
      const assignment = tf.range(0, A, 1, 'int32');
      const kept = tf.less(slot, tf.scalar(rows, 'int32'));
      const marked = tf.scatterND(tf.expandDims(slot, 1), tf.where(kept, tf.add(assignment, tf.scalar(1, 'int32')), tf.zerosLike(assignment)), [rows + 1]);
      const filled = tf.slice(marked, [0], [rows]);
      const assignmentOfSlot = tf.where(tf.greater(filled, 0), tf.sub(filled, tf.scalar(1, 'int32')), tf.fill([rows], A, 'int32'));
      return [assignmentOfSlot, tf.floorDiv(assignmentOfSlot, tf.scalar(K, 'int32'))];
    }) as [tf.Tensor1D, tf.Tensor1D];

    // dispatch: slot s reads token tokenOfSlot[s] (empty slots a zero row); back: Σ over the token's slots
    const dispatched = gatherRows(x, tokenOfSlot, tf.reshape(slot, [N, K]));
    const [batches, perBatch] = layout.batches;
    const out = swigluStacked(tf.reshape(dispatched, [batches, perBatch, D]), gate, up, down, layout.times); // [batches, perBatch, D]
    // combine: assignment a reads slot[a] (dropped: a zero row); back: each slot to its assignment
    const perAssignment = gatherRows(tf.reshape(out, [rows, D]), slot, tf.reshape(assignmentOfSlot, [rows, 1])); // [A, D]
    // y[n] = Σ_k w[n, k] · row[n, k]: [N, 1, K] × [N, K, D] (fp32)
    const y = tf.matMul(tf.reshape(weights, [N, 1, K]) as tf.Tensor3D, tf.reshape(perAssignment, [N, K, D]) as tf.Tensor3D);
    return tf.reshape(y, [N, D]);
  });
  return y;
}

/**
 * Dropless experts with one row per assignment (moe-assigned.ts): x [N, D] repeated K times, each
 * copy through its expert, then y[n] = Σ_k w[n, k] · row[n, k]. No dispatch plan, no gathers.
 */
function assignedCombine(x: tf.Tensor, weights: tf.Tensor, indices: tf.Tensor, gate: tf.Tensor, up: tf.Tensor, down: tf.Tensor): tf.Tensor {
  const [N, D] = x.shape as [number, number];
  const K = indices.shape[1]!;
  return tf.tidy(() => {
    const expertOf = tf.reshape(indices, [N * K]) as tf.Tensor1D;
    const copies = tf.reshape(tf.tile(tf.reshape(x, [N, 1, D]), [1, K, 1]), [N * K, 1, D]);
    const out = swigluStacked(copies, gate, up, down, (v, w) => assignedMatMul(v, w, expertOf)); // [A, 1, D]
    const y = tf.matMul(tf.reshape(weights, [N, 1, K]) as tf.Tensor3D, tf.reshape(out, [N, K, D]) as tf.Tensor3D);
    return tf.reshape(y, [N, D]);
  });
}

/** Where each assignment goes (`slot` [A], `rows` = the dump row), as `batches` of rows, each with its weights. */
interface Layout {
  readonly rows: number;
  readonly slot: tf.Tensor1D;
  /** [batches, rows per batch] */
  readonly batches: readonly [number, number];
  /** v [batches, rows, In] times each batch's expert's weights transposed, from the stacked w [E, Out, In] */
  times(v: tf.Tensor, w: tf.Tensor): tf.Tensor;
}

/**
 * One batch of S rows per expert (steps 1–3 of the module comment): S = the capacity, or the
 * measured largest load. A kept assignment has pos < capacity and pos < its expert's load ≤ S, so
 * its slot e·S + pos is its own; everything else goes to the dump slot E·S.
 */
function expertLayout(expertOf: tf.Tensor1D, pos: tf.Tensor1D, load: tf.Tensor1D, E: number, capacity: number): Layout {
  const A = expertOf.shape[0];
  let S = capacity;
  if (measureLoad()) S = Math.max(1, Math.min(capacity, tf.tidy(() => tf.max(load)).dataSync()[0]!));
  const rows = E * S;
  const [slot] = detached(() => {
    const keep = tf.less(pos, tf.scalar(capacity, 'int32'));
    return [tf.where(keep, tf.add(tf.mul(expertOf, tf.scalar(S, 'int32')), pos), tf.fill([A], rows, 'int32'))];
  }) as [tf.Tensor1D];
  return { rows, slot, batches: [E, S], times: (v, w) => tf.matMul(v as tf.Tensor3D, w as tf.Tensor3D, false, true) };
}

/** Tiles of rows sorted by expert (runtime/ops/moe-grouped.ts), each with its expert's weights. */
function groupedLayout(expertOf: tf.Tensor1D, pos: tf.Tensor1D, load: tf.Tensor1D): Layout {
  const A = expertOf.shape[0];
  const T = tileRows(A, load.shape[0]);
  const layout = tileLayout(expertOf, pos, load, T);
  return { rows: layout.tiles * T, slot: layout.slot, batches: [layout.tiles, T], times: (v, w) => groupedMatMul(v, w, layout) };
}

/** (silu(v·G_eᵀ) ⊙ (v·U_eᵀ)) · D_eᵀ for every batch of rows at once, `times` multiplying by its expert's weights. */
function swigluStacked(v: tf.Tensor, gate: tf.Tensor, up: tf.Tensor, down: tf.Tensor, times: Layout['times']): tf.Tensor {
  const g = times(v, gate);
  const u = times(v, up);
  const h = gated(g, u);
  return times(h, down);
}
