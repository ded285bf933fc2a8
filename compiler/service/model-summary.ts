/**
 * What hovering a model's name shows: its resolved numbers — parameters, active parameters, MTP,
 * KV-cache bytes per token and FLOPs per token — computed by compiler/stats exactly as
 * `moe check --stats` prints them.
 */
import type { CheckContext } from '../check/context.js';
import { countParams, flopsPerToken, formatBytes, formatCount, formatFlops, kvCachePerToken } from '../stats/index.js';
import type { ModelShape } from '../stats/shape.js';

export function modelSummary(ctx: CheckContext, name: string): string | undefined {
  const shape = ctx.shape(name);
  if (!shape) return undefined;
  const params = countParams(shape);
  const kv = kvCachePerToken(shape);
  const seqLen = pretrainLength(ctx, name) ?? shape.context;
  const flops = flopsPerToken(shape, seqLen);
  const rows: [string, string][] = [
    ['parameters', `${formatCount(params.total)} (${params.total.toLocaleString('en-US')})`],
    ['active per token', `${formatCount(params.activePerToken)} (${((100 * params.activePerToken) / params.total).toFixed(1)}% of total)`],
  ];
  if (params.mtp.depth > 0) rows.push(['MTP modules (apart)', `${formatCount(params.mtp.total)} (${params.mtp.depth} module${params.mtp.depth > 1 ? 's' : ''})`]);
  rows.push(
    ['KV cache per token', `${formatBytes(kv.bytesPerToken)} (${kv.bytesPerToken.toLocaleString('en-US')} bytes, bf16; ${kv.saving.toFixed(1)}× smaller than MHA)`],
    ['forward FLOPs per token', `${formatFlops(flops.forward)} at sequence length ${seqLen}`],
    ['training FLOPs per token', formatFlops(flops.training)],
  );
  const table = ['| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n');
  return [`\`\`\`moe\nmodel ${name}\n\`\`\``, architecture(shape), table].join('\n\n');
}

function architecture(shape: ModelShape): string {
  const a = shape.attention;
  const attention = a.kind === 'mla' ? `MLA, ${a.heads} heads, KV rank ${a.kvRank}` : `${a.kind.toUpperCase()}, ${a.heads} heads, ${a.kvHeads} KV heads`;
  const moe = shape.layers.find((l) => l.kind === 'moe');
  // a shared expert of its own width (`shared_hidden`) says so: the count alone would misstate it
  const shared = moe?.kind === 'moe' && moe.shared ? ` + ${moe.shared} shared${moe.sharedHidden === undefined ? '' : ` (width ${moe.sharedHidden})`}` : '';
  const experts = moe?.kind === 'moe' ? `, ${moe.experts} experts top-${moe.topK}${shared}` : '';
  return `${shape.layers.length} layers · dim ${shape.dim} · vocab ${shape.vocab} · ${attention}${experts}`;
}

/** FLOPs are quoted at the model's pretraining sequence length, as `moe check --stats` does. */
function pretrainLength(ctx: CheckContext, model: string): number | undefined {
  const stage = ctx.stages().find((s) => s.kind === 'pretrain' && ctx.inherited(s, 'model') === model);
  return stage?.config.num('seq_len');
}
