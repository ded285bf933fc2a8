/**
 * `--emit dot`: a Graphviz picture of a model, one node per block (embedding, attention and
 * FFN/MoE per layer, final norm, LM head, MTP modules, losses) with the activation shapes on the
 * edges. Runs of identical consecutive layers collapse into one cluster labelled
 * `layers 3..60 (×58)`, so a 61-layer model stays legible.
 */
import type { ModelGraph } from '../../ir/types.js';
import {
  formatShape,
  modelStructure,
  runs,
  type Block,
  type Ffn,
  type GqaAttention,
  type MlaAttention,
  type ModelStructure,
  type Rope,
} from '../../ir/structure.js';

/** A DOT string literal (newlines become centred line breaks). */
function q(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

function ropeText(rope: Rope): string {
  const s = rope.scaling;
  const scaling = s.kind === 'yarn' ? `, YaRN ×${s.factor} from ${s.originalContext}` : s.kind === 'linear' ? `, linear ×${s.factor}` : '';
  return `RoPE θ=${rope.theta}${scaling}`;
}

export function attentionLabel(a: MlaAttention | GqaAttention, rope: Rope): string {
  if (a.kind === 'mla') {
    const q = a.qRank > 0 ? `q_rank ${a.qRank}` : 'plain q';
    return `MLA ${a.heads} heads, ${q}, kv_rank ${a.kvRank}\nqk ${a.nopeDim}+${a.ropeDim} rope, v ${a.vDim}\n${ropeText(rope)}`;
  }
  const kind = a.kvHeads === a.heads ? 'MHA' : a.kvHeads === 1 ? 'MQA' : 'GQA';
  const kv = kind === 'GQA' ? `, ${a.kvHeads} kv heads` : '';
  return `${kind} ${a.heads} heads${kv}, head_dim ${a.headDim}\n${ropeText(rope)}`;
}

export function ffnLabel(ffn: Ffn, dim: number): string {
  if (ffn.kind === 'dense') return `SwiGLU FFN ${dim}→${ffn.hidden}`;
  // a shared MLP of its own width (`shared_hidden`) says so; whole expert widths read as a count
  const ownWidth = ffn.sharedHidden !== ffn.shared * ffn.hidden ? ` (${dim}→${ffn.sharedHidden})` : '';
  const shared = ffn.shared > 0 ? ` +${ffn.shared} shared${ownWidth}` : '';
  const groups = ffn.groups > 1 ? `, groups ${ffn.groups}/${ffn.topGroups}` : '';
  const head = `MoE ${ffn.experts}×(${dim}→${ffn.hidden}) top-${ffn.topK}${shared}, ${ffn.score}${groups}`;
  const details: string[] = [];
  if (!ffn.normalize) details.push('no renorm');
  if (ffn.scale !== 1) details.push(`scale ${ffn.scale}`);
  if (ffn.biasRate !== null) details.push(`bias balancing γ=${ffn.biasRate}`);
  if (ffn.balance) details.push(`${ffn.balance.kind} aux α=${ffn.balance.alpha}`);
  if (ffn.zLoss > 0) details.push(`z-loss ${ffn.zLoss}`);
  details.push(ffn.capacity === null ? 'dropless' : `capacity ${ffn.capacity}`);
  return `${head}\n${wrap(details, 44)}`;
}

/** Comma-joined items, broken into lines of about `width` characters. */
function wrap(items: readonly string[], width: number): string {
  const lines: string[] = [];
  for (const item of items) {
    const last = lines.length - 1;
    if (last >= 0 && lines[last]!.length + item.length + 2 <= width) lines[last] += `, ${item}`;
    else lines.push(item);
  }
  return lines.join('\n');
}

function layerSignature(block: Block): string {
  return JSON.stringify([block.attention, block.ffn]);
}

function losses(block: Block): number {
  return block.ffn.kind === 'moe' ? (block.ffn.balance ? 1 : 0) + (block.ffn.zLoss > 0 ? 1 : 0) : 0;
}

class DotWriter {
  readonly lines: string[] = [];
  constructor(readonly s: ModelStructure) {}

  shape(value: string): string {
    const v = this.s.graph.values[value];
    return v ? formatShape(v.shape) : '';
  }

  node(id: string, label: string, attrs = '', indent = '  '): void {
    this.lines.push(`${indent}${id} [label=${q(label)}${attrs ? `, ${attrs}` : ''}];`);
  }

  edge(from: string, to: string, label: string, attrs = ''): void {
    const parts = [label ? `label=${q(label)}` : '', attrs].filter((p) => p !== '');
    this.lines.push(`  ${from} -> ${to}${parts.length > 0 ? ` [${parts.join(', ')}]` : ''};`);
  }
}

/** The DOT text of one model. */
export function modelDot(model: ModelGraph): string {
  const s = modelStructure(model);
  const w = new DotWriter(s);
  const dim = s.dim;
  w.lines.push(`digraph ${q(model.name)} {`);
  w.lines.push(`  graph [label=${q(`${model.name}: ${s.layers.length} layers, dim ${dim}, vocab ${s.vocab}`)}, labelloc=t, fontname="Helvetica", rankdir=TB, nodesep=0.4, ranksep=0.45];`);
  w.lines.push('  node [shape=box, style="rounded,filled", fillcolor="#f4f4f4", fontname="Helvetica", fontsize=11, margin="0.15,0.06"];');
  w.lines.push('  edge [fontname="Helvetica", fontsize=9, color="#555555"];');
  w.node('input_ids', `input_ids\n${w.shape('input_ids')} i32`, 'shape=oval, fillcolor="#ffffff"');
  const embedShape = model.params.find((p) => p.name === s.embedding.params[0])?.shape ?? [s.vocab, dim];
  w.node('embedding', `Embedding ${embedShape.join('×')}`, 'fillcolor="#dbe9f6"');
  w.edge('input_ids', 'embedding', w.shape('input_ids'));

  // main layers, runs of identical layers collapsed
  let previous = 'embedding';
  let previousValue = s.embedding.outputs[0] ?? '';
  const balanceSources: { id: string; count: number }[] = [];
  for (const [from, to] of runs(s.layers, (a, b) => layerSignature(a) === layerSignature(b))) {
    const first = s.layers[from]!;
    const count = to - from + 1;
    const id = `layers_${from}_${to}`;
    const title = count === 1 ? `layer ${from}` : `layers ${from}..${to} (×${count})`;
    w.lines.push(`  subgraph cluster_${id} {`);
    w.lines.push(`    label=${q(title)}; style="rounded,dashed"; color="#888888"; fontname="Helvetica"; fontsize=11;`);
    w.node(`${id}_attn`, attentionLabel(first.attention, s.rope), 'fillcolor="#e3f1e1"', '    ');
    w.node(`${id}_ffn`, ffnLabel(first.ffn, dim), `fillcolor="${first.ffn.kind === 'moe' ? '#fbe5cf' : '#eeeeee'}"`, '    ');
    w.lines.push('  }');
    w.edge(previous, `${id}_attn`, w.shape(previousValue));
    w.edge(`${id}_attn`, `${id}_ffn`, w.shape(first.output));
    if (count > 1) w.edge(`${id}_ffn`, `${id}_attn`, `×${count}`, 'style=dashed, constraint=false');
    const n = losses(first) * count;
    if (n > 0) balanceSources.push({ id: `${id}_ffn`, count: n });
    previous = `${id}_ffn`;
    previousValue = s.layers[to]!.output;
  }

  w.node('final_norm', 'RMSNorm (final)');
  w.edge(previous, 'final_norm', w.shape(previousValue));
  const headShape = model.params.find((p) => p.name === s.head.params[0])?.shape ?? [s.vocab, dim];
  w.node('lm_head', `LM head ${dim}→${headShape[0]}${s.tied ? ' (tied to the embedding)' : ''}`, 'fillcolor="#dbe9f6"');
  w.edge('final_norm', 'lm_head', w.shape(s.finalNorm.outputs[0] ?? ''));
  w.node('loss_main', 'cross-entropy\nnext token', 'shape=oval, fillcolor="#f9dada"');
  w.edge('lm_head', 'loss_main', w.shape(s.head.outputs[0] ?? ''));

  // MTP modules
  let mtpPrevious = previous;
  let mtpPreviousValue = previousValue;
  for (const m of s.mtp) {
    const id = `mtp_${m.depth}`;
    w.lines.push(`  subgraph cluster_${id} {`);
    w.lines.push(`    label=${q(`MTP module ${m.depth} (layer ${m.block.index})`)}; style="rounded,dashed"; color="#888888"; fontname="Helvetica"; fontsize=11;`);
    w.node(`${id}_in`, `embed tokens t+${m.depth}, RMSNorm both\nconcat → eh_proj ${2 * dim}→${dim}`, 'fillcolor="#dbe9f6"', '    ');
    w.node(`${id}_attn`, attentionLabel(m.block.attention, s.rope), 'fillcolor="#e3f1e1"', '    ');
    w.node(`${id}_ffn`, ffnLabel(m.block.ffn, dim), `fillcolor="${m.block.ffn.kind === 'moe' ? '#fbe5cf' : '#eeeeee'}"`, '    ');
    w.node(`${id}_head`, 'RMSNorm + LM head (shared)', 'fillcolor="#dbe9f6"', '    ');
    w.lines.push('  }');
    w.edge('embedding', `${id}_in`, `${w.shape(s.embedding.outputs[0] ?? '')} shifted ${m.depth}`, 'style=dotted');
    w.edge(mtpPrevious, `${id}_in`, w.shape(mtpPreviousValue));
    w.edge(`${id}_in`, `${id}_attn`, w.shape(m.block.input));
    w.edge(`${id}_attn`, `${id}_ffn`, w.shape(m.block.output));
    w.edge(`${id}_ffn`, `${id}_head`, w.shape(m.block.output));
    w.node(`${id}_loss`, `cross-entropy\ntoken t+${m.depth + 1}`, 'shape=oval, fillcolor="#f9dada"');
    w.edge(`${id}_head`, `${id}_loss`, w.shape(m.logits));
    const n = losses(m.block);
    if (n > 0) balanceSources.push({ id: `${id}_ffn`, count: n });
    mtpPrevious = `${id}_ffn`;
    mtpPreviousValue = m.block.output;
  }

  // the total loss
  const mtpWeight = s.mtp.length > 0 ? s.mtpWeight : 0;
  const balanceCount = balanceSources.reduce((a, b) => a + b.count, 0);
  const terms = ['main', ...(s.mtp.length === 1 ? [`${mtpWeight} · MTP`] : s.mtp.length > 1 ? [`${mtpWeight}/${s.mtp.length} · Σ MTP`] : []), ...(balanceCount > 0 ? [`${balanceCount} router losses`] : [])];
  w.node('loss', `loss = ${terms.join(' + ')}`, 'shape=oval, fillcolor="#f3c4c4"');
  w.edge('loss_main', 'loss', 'scalar');
  for (const m of s.mtp) w.edge(`mtp_${m.depth}_loss`, 'loss', `× ${s.lossTerms.find((t) => t.value === m.loss)?.weight ?? mtpWeight / s.mtp.length}`);
  for (const b of balanceSources) w.edge(b.id, 'loss', b.count === 1 ? 'router loss' : `${b.count} router losses`, 'style=dashed, color="#aa6666"');
  w.lines.push('}');
  return `${w.lines.join('\n')}\n`;
}
