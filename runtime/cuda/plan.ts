/**
 * The memory plan: every buffer a run needs (activations, temporaries, gradients) gets a fixed
 * offset in one device arena, so the peak is known before the first kernel runs and a captured
 * graph always sees the same addresses. Buffers whose lifetimes (first and last step that touches
 * them) do not overlap share memory; offsets come from a greedy first fit over the buffers sorted
 * by size, largest first (the usual heuristic for static tensor allocation; exact packing is NP-hard).
 * Pure: tested in CI without a GPU.
 */

export interface BufferNeed {
  readonly name: string;
  readonly bytes: number;
  /** the first and last step (inclusive) that read or write it */
  readonly first: number;
  readonly last: number;
}

export interface Placed extends BufferNeed {
  readonly offset: number;
}

export interface MemoryPlan {
  readonly buffers: ReadonlyMap<string, Placed>;
  /** the arena's size: the highest end of any buffer */
  readonly peakBytes: number;
  /** the sum of all buffers, what allocating each separately would take */
  readonly totalBytes: number;
}

/** Offsets are multiples of this (cuBLASLt and vector loads want 256-byte alignment). */
export const ALIGN = 256;

const align = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

function overlaps(a: BufferNeed, b: BufferNeed): boolean {
  return a.first <= b.last && b.first <= a.last;
}

export function planMemory(needs: readonly BufferNeed[]): MemoryPlan {
  const seen = new Set<string>();
  for (const n of needs) {
    if (seen.has(n.name)) throw new Error(`buffer ${n.name} is planned twice`);
    seen.add(n.name);
    if (!(n.bytes >= 0) || n.first > n.last) throw new Error(`buffer ${n.name}: bad size or lifetime`);
  }
  const order = [...needs].sort((a, b) => b.bytes - a.bytes || a.first - b.first || (a.name < b.name ? -1 : 1));
  const placed: Placed[] = [];
  for (const need of order) {
    const size = align(need.bytes);
    // the live buffers this one must avoid, by offset
    const clashes = placed.filter((p) => overlaps(p, need)).sort((a, b) => a.offset - b.offset);
    let offset = 0;
    for (const c of clashes) {
      if (offset + size <= c.offset) break;
      offset = Math.max(offset, c.offset + align(c.bytes));
    }
    placed.push({ ...need, offset });
  }
  const buffers = new Map(needs.map((n) => [n.name, placed.find((p) => p.name === n.name)!]));
  const peakBytes = placed.reduce((m, p) => Math.max(m, p.offset + align(p.bytes)), 0);
  const totalBytes = needs.reduce((s, n) => s + align(n.bytes), 0);
  return { buffers, peakBytes, totalBytes };
}
