/**
 * Plain-JavaScript references for the MoE ops (specs/ir.md §4.9–4.12, §5), written from the spec
 * with loops and doubles, no tfjs. Tensors are nested arrays; tokens are flattened (n = b·T + t).
 */
import type { RouterSettings } from '../../../ir/structure.js';

export type Matrix = number[][];

export interface RouterRefOptions extends RouterSettings {
  readonly groupScore: 'top2_sum' | 'max';
  readonly bias?: readonly number[];
}

export interface RouterRef {
  readonly logits: Matrix;
  readonly scores: Matrix;
  /** the selection scores after bias and group mask (−∞ outside the kept groups) */
  readonly selection: Matrix;
  /** the group scores (empty rows when there is no group limit) */
  readonly groupScores: Matrix;
  readonly indices: number[][];
  readonly weights: Matrix;
  readonly load: number[];
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** Indices sorted by descending value, ties to the smaller index. */
export function argsortDescending(values: readonly number[]): number[] {
  return values.map((_, i) => i).sort((a, b) => (values[b]! === values[a]! ? a - b : values[b]! - values[a]!));
}

/** x: [N][D], W: [E][D]. */
export function routerRef(x: Matrix, W: Matrix, o: RouterRefOptions): RouterRef {
  const E = o.experts;
  const n = E / o.groups;
  const out: RouterRef = { logits: [], scores: [], selection: [], groupScores: [], indices: [], weights: [], load: new Array<number>(E).fill(0) };
  for (const row of x) {
    const z = W.map((w) => w.reduce((acc, wd, d) => acc + wd * row[d]!, 0));
    let s: number[];
    if (o.score === 'sigmoid') s = z.map(sigmoid);
    else {
      const m = Math.max(...z);
      const ex = z.map((v) => Math.exp(v - m));
      const total = ex.reduce((a, b) => a + b, 0);
      s = ex.map((v) => v / total);
    }
    const u = s.map((v, e) => v + (o.bias?.[e] ?? 0));
    const gs: number[] = [];
    if (o.topGroups < o.groups) {
      for (let g = 0; g < o.groups; g++) {
        const members = u.slice(g * n, g * n + n).sort((a, b) => b - a);
        gs.push(o.groupScore === 'max' ? members[0]! : members.slice(0, Math.min(2, n)).reduce((a, b) => a + b, 0));
      }
      const kept = new Set(argsortDescending(gs).slice(0, o.topGroups));
      for (let e = 0; e < E; e++) if (!kept.has(Math.floor(e / n))) u[e] = -Infinity;
    }
    const idx = argsortDescending(u).slice(0, o.topK);
    let w = idx.map((e) => s[e]!);
    if (o.normalize) {
      const total = w.reduce((a, b) => a + b, 0);
      w = w.map((v) => v / (total + 1e-20));
    }
    w = w.map((v) => v * o.scale);
    for (const e of idx) out.load[e]!++;
    out.logits.push(z);
    out.scores.push(s);
    out.selection.push(u);
    out.groupScores.push(gs);
    out.indices.push(idx);
    out.weights.push(w);
  }
  return out;
}

/**
 * The smallest gaps that decide the routing: between consecutive selected experts and between the
 * K-th and the (K+1)-th candidate (selection order), and between the G'-th and (G'+1)-th group
 * score (group choice). A perturbation that moves every selection score by less than half the
 * first and every group score by less than half the second leaves indices (and their order) unchanged.
 */
export function routingMargins(ref: RouterRef, topK: number, topGroups: number): { selection: number; group: number } {
  let selection = Infinity;
  let group = Infinity;
  ref.selection.forEach((u, p) => {
    const finite = u.filter((v) => v !== -Infinity).sort((a, b) => b - a);
    for (let j = 0; j < Math.min(topK, finite.length - 1); j++) selection = Math.min(selection, finite[j]! - finite[j + 1]!);
    const gs = [...ref.groupScores[p]!].sort((a, b) => b - a);
    if (gs.length > topGroups) group = Math.min(group, gs[topGroups - 1]! - gs[topGroups]!);
  });
  return { selection, group };
}

const silu = (v: number): number => v * sigmoid(v);

/** expert_e(v) = (silu(v·G_eᵀ) ⊙ (v·U_eᵀ)) · D_eᵀ; gate/up: [E][H][D], down: [E][D][H]. */
export function expertRef(v: readonly number[], gate: Matrix, up: Matrix, down: Matrix): number[] {
  const h = gate.map((g, j) => silu(g.reduce((a, gd, d) => a + gd * v[d]!, 0)) * up[j]!.reduce((a, ud, d) => a + ud * v[d]!, 0));
  return down.map((row) => row.reduce((a, dh, j) => a + dh * h[j]!, 0));
}

/**
 * y[n] = Σ_k keep[n,k] · w[n,k] · expert_{idx[n,k]}(x[n]) with the spec's capacity rule:
 * C = ceil(c·N·K/E); (n, k) kept iff fewer than C earlier tokens n' < n chose the same expert.
 * Also returns keep, for tests that check which pairs were dropped.
 */
export function expertsRef(
  x: Matrix,
  weights: Matrix,
  indices: number[][],
  gate: Matrix[],
  up: Matrix[],
  down: Matrix[],
  capacity: number | null,
): { y: Matrix; keep: boolean[][] } {
  const N = x.length;
  const K = indices[0]?.length ?? 0;
  const E = gate.length;
  const C = capacity === null ? Infinity : Math.ceil((capacity * N * K) / E);
  const y: Matrix = [];
  const keep: boolean[][] = [];
  for (let n = 0; n < N; n++) {
    const row = new Array<number>(x[n]!.length).fill(0);
    const keepRow: boolean[] = [];
    for (let k = 0; k < K; k++) {
      const e = indices[n]![k]!;
      let earlier = 0;
      for (let m = 0; m < n; m++) if (indices[m]!.includes(e)) earlier++;
      const kept = earlier < C;
      keepRow.push(kept);
      if (!kept) continue;
      const out = expertRef(x[n]!, gate[e]!, up[e]!, down[e]!);
      out.forEach((v, d) => (row[d] = row[d]! + weights[n]![k]! * v));
    }
    y.push(row);
    keep.push(keepRow);
  }
  return { y, keep };
}

/** scores: [B][T][E], indices: [B][T][K]. */
export function balanceRef(
  scores: Matrix[],
  indices: number[][][],
  o: { kind: 'sequence' | 'batch'; alpha: number; experts: number; topK: number; score: 'sigmoid' | 'softmax' },
): number {
  const E = o.experts;
  const ell = (positions: { s: number[]; idx: number[] }[]): number => {
    const f = new Array<number>(E).fill(0);
    const P = new Array<number>(E).fill(0);
    for (const p of positions) {
      for (const e of p.idx) f[e]! += E / (o.topK * positions.length);
      const total = o.score === 'sigmoid' ? p.s.reduce((a, b) => a + b, 0) : 1;
      p.s.forEach((v, e) => (P[e]! += v / total / positions.length));
    }
    return f.reduce((acc, fe, e) => acc + fe * P[e]!, 0);
  };
  const rows = scores.map((row, b) => row.map((s, t) => ({ s, idx: indices[b]![t]! })));
  if (o.kind === 'batch') return o.alpha * ell(rows.flat());
  return (o.alpha * rows.reduce((acc, r) => acc + ell(r), 0)) / rows.length;
}

/** logits: [N][E]. */
export function zLossRef(logits: Matrix, coef: number): number {
  const lse = logits.map((z) => {
    const m = Math.max(...z);
    return m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0));
  });
  return (coef * lse.reduce((a, v) => a + v * v, 0)) / logits.length;
}

/** Nested rows of a flat array: shape [rows, cols]. */
export function rows(flat: ArrayLike<number>, cols: number): Matrix {
  const out: Matrix = [];
  for (let i = 0; i < flat.length; i += cols) out.push(Array.from({ length: cols }, (_, j) => flat[i + j]!));
  return out;
}

/** Largest |a − b| / max(1, |b|) over two equally shaped nested arrays. */
export function maxRelDiff(a: unknown, b: unknown): number {
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return Infinity;
    return a.reduce((m: number, v, i) => Math.max(m, maxRelDiff(v, b[i])), 0);
  }
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) / Math.max(1, Math.abs(b));
  return Infinity;
}
