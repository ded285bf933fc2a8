/**
 * MOE_CUDA_PROFILE's accounting: milliseconds and calls per op label (`linear fwd`, `adamw`), each op
 * synchronized before and after. A step graph's first run (per graph key: shape, micro-batch part)
 * does the host work a GPU program pays once — module loading, cuBLASLt's algorithm heuristics,
 * rotary tables — which would skew the shares, so it is left out; the table says how many steps it
 * covers. Ops run outside a step graph (a validation forward, a decode step) are all counted: they
 * have no step to warm up in.
 */
export class OpProfile {
  private readonly ops = new Map<string, { ms: number; calls: number }>();
  /** graph keys run once already: their later runs are counted */
  private readonly seen = new Set<string>();
  /** inside a graph key's first run: its ops are not counted */
  private warming = false;
  /** inside any graph key's run: ops outside one are the eager ones */
  private inGraph = false;
  private steps = 0;
  private warmups = 0;
  private outside = 0;

  constructor(
    /** waits for the device's queued work */
    private readonly synchronize: () => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** One run of graph `key`'s work; `endsStep`: this run completes a training step (its last micro-batch). */
  graph(key: string, endsStep: boolean, work: () => void): void {
    const first = !this.seen.has(key);
    this.seen.add(key);
    if (first) this.warmups += endsStep ? 1 : 0;
    else this.steps += endsStep ? 1 : 0;
    const [warming, inGraph] = [this.warming, this.inGraph];
    this.warming = first;
    this.inGraph = true;
    try {
      work();
    } finally {
      this.warming = warming;
      this.inGraph = inGraph;
    }
  }

  /** Runs one op, timed (synchronized before and after) unless it belongs to a warm-up run. */
  time(label: string, work: () => void): void {
    if (this.warming) return work();
    if (!this.inGraph) this.outside++;
    this.synchronize();
    const t0 = this.now();
    work();
    this.synchronize();
    const entry = this.ops.get(label) ?? { ms: 0, calls: 0 };
    this.ops.set(label, { ms: entry.ms + this.now() - t0, calls: entry.calls + 1 });
  }

  /** The table, largest first, with what it covers in its header; empty when nothing was counted. */
  report(): string {
    if (this.ops.size === 0) return '';
    const total = [...this.ops.values()].reduce((a, b) => a + b.ms, 0);
    const rows = [...this.ops]
      .sort((a, b) => b[1].ms - a[1].ms)
      .map(([label, { ms, calls }]) => `  ${label.padEnd(28)} ${String(calls).padStart(7)} ${ms.toFixed(1).padStart(10)} ms  ${((100 * ms) / total).toFixed(1).padStart(5)}%`);
    return `cuda profile (${total.toFixed(0)} ms, each op synchronized): ${this.covers()}\n  ${'op'.padEnd(28)} ${'calls'.padStart(7)} ${'time'.padStart(13)}  ${'share'.padStart(6)}\n${rows.join('\n')}\n`;
  }

  private covers(): string {
    const parts: string[] = [];
    if (this.steps > 0 || this.warmups > 0) {
      parts.push(`${plural(this.steps, 'training step')}, leaving out ${plural(this.warmups, 'first step')} of a shape (warm-up: module loading, cuBLASLt heuristics)`);
    }
    if (this.outside > 0) parts.push(`${plural(this.outside, 'op call')} outside training steps (validation, decoding), all counted`);
    return parts.join('; ');
  }
}

const plural = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;
