/** The human summary table of `moe check --stats`. */
import type { SpecStats } from '../compiler/check/stats.js';
import { formatBytes, formatCount, formatFlops } from '../compiler/stats/format.js';

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd());
}

export function renderStats(stats: SpecStats): string {
  const out: string[] = [];
  for (const m of stats.models) {
    const p = m.params;
    out.push(`model ${m.model}`);
    const rows: string[][] = [
      ['  parameters', formatCount(p.total), p.total.toLocaleString('en-US')],
      ['  active per token', formatCount(p.activePerToken), `${((100 * p.activePerToken) / p.total).toFixed(1)}% of total`],
    ];
    if (p.mtp.depth > 0) rows.push(['  MTP modules (apart)', formatCount(p.mtp.total), `${p.mtp.depth} module(s), embedding and head shared`]);
    rows.push(
      ['  forward FLOPs/token', formatFlops(m.flops.forward).replace('FLOP/s', 'FLOPs'), `at sequence length ${m.flops.seqLen}`],
      ['  training FLOPs/token', formatFlops(m.flops.training).replace('FLOP/s', 'FLOPs'), m.params.mtp.depth > 0 ? 'forward + backward, with MTP' : 'forward + backward'],
      ['  KV cache/token', formatBytes(m.kvCache.bytesPerToken), `bf16; uncompressed MHA would be ${formatBytes(m.kvCache.naiveBytesPerToken)}`],
    );
    out.push(...table(rows), '');
  }
  for (const s of stats.stages) {
    const m = s.memory;
    out.push(`stage ${s.stage} on ${s.cluster} (${s.devices} × ${formatBytes(s.deviceMemory)}), memory per device of pipeline stage ${m.stage}`);
    const fits = m.total <= s.deviceMemory;
    out.push(
      ...table([
        ['  weights', formatBytes(m.weights)],
        ['  gradients', formatBytes(m.gradients)],
        ['  optimizer state', formatBytes(m.optimizer)],
        ['  activations', formatBytes(m.activations)],
        ['  total', formatBytes(m.total)],
        ['  headroom', fits ? formatBytes(s.deviceMemory - m.total) : `-${formatBytes(m.total - s.deviceMemory)} (does not fit)`],
      ]),
      '',
    );
  }
  return out.join('\n');
}
