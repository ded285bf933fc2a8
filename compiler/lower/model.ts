/**
 * A checked model → its execution graph: HF deepseek_v3 parameter names, one node per layer-level
 * op, every node carrying the `.moe` location it came from. Multi-token-prediction modules follow
 * the main model (DeepSeek-V3 §2.2), numbered as layers `layers + k - 1` like DeepSeek's checkpoints.
 */
import type { Config } from '../check/values.js';
import type { AttrValue, Init, ModelGraph, SourceLoc } from '../../ir/types.js';
import type { Span } from '../syntax/source.js';
import { GraphBuilder } from './builder.js';
import type { Locate } from './loc.js';
import { ropeAttrs, softmaxScale } from './rope.js';
import { schemaNumber } from '../schema/defaults.js';
import { modelSpec } from '../schema/model.js';
import { layerWindows } from '../check/model-shape.js';

/** `init` is an optional block: absent, the schema's std applies. */
const initStd = (model: Config): number => model.sub('init')?.num('std') ?? schemaNumber(modelSpec, 'init', 'std');

interface LayerSource {
  readonly config: Config;
  readonly span: Span;
}

const ONES: Init = { kind: 'ones' };
const ZEROS: Init = { kind: 'zeros' };

export function lowerModel(name: string, model: Config, nameSpan: Span, locate: Locate): ModelGraph {
  const g = new GraphBuilder({
    input_ids: { dtype: 'i32', shape: ['B', 'T'] },
    loss_mask: { dtype: 'f32', shape: ['B', 'T'] },
  });
  const n = (key: string): number => model.num(key) ?? 0;
  const [vocab, dim, layerCount] = [n('vocab'), n('dim'), n('layers')];
  const std = initStd(model);
  const normal: Init = { kind: 'normal', std };
  const eps = model.sub('norm')?.num('eps') ?? 1e-6;
  const modelLoc = locate(nameSpan);
  const layerSources = layersOf(model, layerCount);

  const embed = g.param('model.embed_tokens.weight', [vocab, dim], normal);
  g.node('embedding', ['input_ids'], ['h.0'], modelLoc, { params: [embed], attrs: { shift: 0 } });

  const losses: { value: string; weight: number }[] = [];
  const loads: string[] = [];
  const block = (prefix: string, input: string, output: string, source: LayerSource, window: number | null): void => {
    const attnLoc = locate(model.spanOf('attention'));
    const ln1 = g.param(`${prefix}.input_layernorm.weight`, [dim], ONES);
    g.node('rms_norm', [input], [`${output}.attn_in`], attnLoc, { params: [ln1], attrs: { eps } });
    attention(g, model, prefix, `${output}.attn_in`, `${output}.attn_out`, attnLoc, normal, window);
    g.node('add', [input, `${output}.attn_out`], [`${output}.mid`], attnLoc);
    const ffnLoc = locate(source.span);
    const ln2 = g.param(`${prefix}.post_attention_layernorm.weight`, [dim], ONES);
    g.node('rms_norm', [`${output}.mid`], [`${output}.ffn_in`], ffnLoc, { params: [ln2], attrs: { eps } });
    const moe = source.config.sub('moe');
    if (moe) {
      const extra = moeLayer(g, moe, prefix, `${output}.ffn_in`, `${output}.ffn_out`, ffnLoc, normal, dim);
      losses.push(...extra.losses);
      loads.push(extra.load);
    } else {
      const hidden = source.config.sub('ffn')?.num('hidden') ?? 0;
      swiglu(g, `${prefix}.mlp`, `${output}.ffn_in`, `${output}.ffn_out`, ffnLoc, dim, hidden, normal);
    }
    g.node('add', [`${output}.mid`, `${output}.ffn_out`], [output], ffnLoc);
  };

  const windows = layerWindows(model, layerCount);
  layerSources.forEach((source, i) => g.inLayer(i, () => block(`model.layers.${i}`, `h.${i}`, `h.${i + 1}`, source, windows[i]!)));

  const final = `h.${layerCount}`;
  const norm = g.param('model.norm.weight', [dim], ONES);
  g.node('rms_norm', [final], ['final'], modelLoc, { params: [norm], attrs: { eps } });
  const tied = model.bool('tie_embeddings') ?? false;
  const head = tied ? embed : g.param('lm_head.weight', [vocab, dim], normal);
  g.node('lm_head', ['final'], ['logits'], modelLoc, { params: [head] });
  g.node('loss.cross_entropy', ['logits', 'input_ids', 'loss_mask'], ['loss.main'], modelLoc, { attrs: { shift: 1 } });

  const mtp = model.sub('mtp');
  const depth = mtp?.num('depth') ?? 0;
  const lambda = mtp?.num('weight') ?? 0;
  const mtpLosses: string[] = [];
  // the first MTP module reads the main model's last hidden state, before the final norm
  let previous = final;
  for (let k = 1; k <= depth; k++) {
    const index = layerCount + k - 1;
    g.inLayer(index, () => {
      const prefix = `model.layers.${index}`;
      const loc = locate(model.spanOf('mtp'));
      const v = (s: string): string => `mtp.${k}.${s}`;
      g.node('embedding', ['input_ids'], [v('emb')], loc, { params: [embed], attrs: { shift: k } });
      g.node('rms_norm', [v('emb')], [v('emb_norm')], loc, { params: [g.param(`${prefix}.enorm.weight`, [dim], ONES)], attrs: { eps } });
      g.node('rms_norm', [previous], [v('h_norm')], loc, { params: [g.param(`${prefix}.hnorm.weight`, [dim], ONES)], attrs: { eps } });
      g.node('concat', [v('emb_norm'), v('h_norm')], [v('cat')], loc);
      g.node('linear', [v('cat')], [v('in')], loc, { params: [g.param(`${prefix}.eh_proj.weight`, [dim, 2 * dim], normal)] });
      // an MTP module attends fully, whatever the main layers' windows (no checkpoint has a windowed one)
      block(prefix, v('in'), v('h'), layerSources[layerSources.length - 1]!, null);
      const headNorm = g.param(`${prefix}.shared_head.norm.weight`, [dim], ONES);
      g.node('rms_norm', [v('h')], [v('final')], loc, { params: [headNorm], attrs: { eps } });
      g.node('lm_head', [v('final')], [v('logits')], loc, { params: [head] });
      g.node('loss.cross_entropy', [v('logits'), 'input_ids', 'loss_mask'], [v('loss')], loc, { attrs: { shift: k + 1 } });
      mtpLosses.push(v('loss'));
      previous = v('h');
    });
  }

  const terms = [
    { value: 'loss.main', weight: 1 },
    ...mtpLosses.map((value) => ({ value, weight: lambda / depth })),
    ...losses,
  ];
  g.node('loss.sum', terms.map((t) => t.value), ['loss'], modelLoc, { attrs: { weights: terms.map((t) => t.weight) } });
  return g.build(name, modelLoc, modelConfig(model), ['logits', 'loss', 'loss.main', ...mtpLosses, ...loads]);
}

function layersOf(model: Config, layerCount: number): LayerSource[] {
  const out: LayerSource[] = [];
  for (let i = 0; i < layerCount; i++) {
    const range = model.ranges.find((r) => r.from <= i && i <= r.to);
    if (!range) throw new Error(`layer ${i} is not covered (the checker should have refused this model)`);
    out.push({ config: range.config, span: range.rangeSpan });
  }
  return out;
}

function attention(
  g: GraphBuilder,
  model: Config,
  prefix: string,
  input: string,
  output: string,
  loc: SourceLoc,
  normal: Init,
  window: number | null,
): void {
  const a = model.sub('attention')!;
  const dim = model.num('dim') ?? 0;
  const heads = a.num('heads') ?? 0;
  const p = (s: string, shape: number[], init: Init = normal): string => g.param(`${prefix}.self_attn.${s}`, shape, init);
  if (a.tag === 'mla') {
    const [qRank, kvRank, nope, rope, v] = ['q_rank', 'kv_rank', 'nope_dim', 'rope_dim', 'v_dim'].map((k) => a.num(k) ?? 0) as [
      number, number, number, number, number,
    ];
    const q =
      qRank > 0
        ? [p('q_a_proj.weight', [qRank, dim]), p('q_a_layernorm.weight', [qRank], ONES), p('q_b_proj.weight', [heads * (nope + rope), qRank])]
        : [p('q_proj.weight', [heads * (nope + rope), dim])];
    const params = [
      ...q,
      p('kv_a_proj_with_mqa.weight', [kvRank + rope, dim]),
      p('kv_a_layernorm.weight', [kvRank], ONES),
      p('kv_b_proj.weight', [heads * (nope + v), kvRank]),
      p('o_proj.weight', [dim, heads * v]),
    ];
    g.node('attention.mla', [input], [output], loc, {
      params,
      attrs: {
        heads,
        q_rank: qRank,
        kv_rank: kvRank,
        nope_dim: nope,
        rope_dim: rope,
        v_dim: v,
        // q_a_layernorm and kv_a_layernorm use 1e-6 whatever the model's eps, as HF and DeepSeek do
        eps: 1e-6,
        softmax_scale: softmaxScale(model, nope + rope),
        rope: ropeAttrs(model, true),
        window,
      },
    });
    return;
  }
  const headDim = a.num('head_dim') ?? dim / heads;
  const kvHeads = a.tag === 'mha' ? heads : a.tag === 'mqa' ? 1 : (a.num('kv_heads') ?? heads);
  const qkNorm = (a.str('qk_norm') ?? 'none') as 'none' | 'head' | 'full';
  const qkvBias = a.bool('qkv_bias') ?? false;
  // HF names: Qwen2-MoE's `q_proj.bias`, Qwen3-MoE's and OLMoE's `q_norm.weight` / `k_norm.weight`
  const biases = qkvBias
    ? [p('q_proj.bias', [heads * headDim], ZEROS), p('k_proj.bias', [kvHeads * headDim], ZEROS), p('v_proj.bias', [kvHeads * headDim], ZEROS)]
    : [];
  const norms =
    qkNorm === 'none'
      ? []
      : qkNorm === 'head'
        ? [p('q_norm.weight', [headDim], ONES), p('k_norm.weight', [headDim], ONES)]
        : [p('q_norm.weight', [heads * headDim], ONES), p('k_norm.weight', [kvHeads * headDim], ONES)];
  g.node('attention.gqa', [input], [output], loc, {
    params: [
      p('q_proj.weight', [heads * headDim, dim]),
      p('k_proj.weight', [kvHeads * headDim, dim]),
      p('v_proj.weight', [kvHeads * headDim, dim]),
      p('o_proj.weight', [dim, heads * headDim]),
      ...biases,
      ...norms,
    ],
    attrs: {
      heads,
      kv_heads: kvHeads,
      head_dim: headDim,
      softmax_scale: 1 / Math.sqrt(headDim),
      rope: ropeAttrs(model, false),
      qk_norm: qkNorm,
      qkv_bias: qkvBias,
      eps: model.sub('norm')?.num('eps') ?? 1e-6,
      window,
    },
  });
}

function swiglu(g: GraphBuilder, prefix: string, input: string, output: string, loc: SourceLoc, dim: number, hidden: number, normal: Init): void {
  g.node('ffn.swiglu', [input], [output], loc, {
    params: [
      g.param(`${prefix}.gate_proj.weight`, [hidden, dim], normal),
      g.param(`${prefix}.up_proj.weight`, [hidden, dim], normal),
      g.param(`${prefix}.down_proj.weight`, [dim, hidden], normal),
    ],
  });
}

function moeLayer(
  g: GraphBuilder,
  moe: Config,
  prefix: string,
  input: string,
  output: string,
  loc: SourceLoc,
  normal: Init,
  dim: number,
): { losses: { value: string; weight: number }[]; load: string } {
  const router = moe.sub('router')!;
  const experts = moe.num('experts') ?? 0;
  const topK = moe.num('top_k') ?? 0;
  const hidden = moe.num('hidden') ?? 0;
  const shared = moe.num('shared') ?? 0;
  const groups = router.num('groups') ?? 1;
  const balance = router.sub('balance');
  const usesBias = balance?.tag === 'bias';
  const gate = g.param(`${prefix}.mlp.gate.weight`, [experts, dim], normal);
  const state = usesBias ? [g.stateEntry(`${prefix}.mlp.gate.e_score_correction_bias`, [experts], ZEROS)] : [];
  const [weights, indices, scores, logits, load] = g.node(
    'moe.router',
    [input],
    [`${output}.weights`, `${output}.indices`, `${output}.scores`, `${output}.router_logits`, `${output}.load`],
    loc,
    {
      params: [gate],
      state,
      attrs: {
        experts,
        top_k: topK,
        score: router.str('score') ?? 'sigmoid',
        groups,
        top_groups: router.num('top_groups') ?? groups,
        normalize: router.bool('normalize') ?? true,
        scale: router.num('scale') ?? 1,
        bias_rate: usesBias ? (balance.num('rate') ?? 0) : null,
        // how a group is scored for group-limited routing: DeepSeek-V3 sums the top-2 biased scores
        // when the bias is used and takes the max otherwise (HF deepseek_v3 always sums the top 2)
        group_score: usesBias ? 'top2_sum' : 'max',
      },
    },
  ) as [string, string, string, string, string];
  const routed = shared > 0 ? `${output}.routed` : output;
  g.node('moe.experts', [input, weights, indices], [routed], loc, {
    params: ['gate_proj', 'up_proj', 'down_proj'].map((w) =>
      g.param(`${prefix}.mlp.experts.{j}.${w}.weight`, w === 'down_proj' ? [dim, hidden] : [hidden, dim], normal, { stack: experts }),
    ),
    attrs: { experts, top_k: topK, capacity: router.num('capacity') ?? null },
  });
  if (shared > 0) {
    // one MLP for all shared experts, as HF builds it; `shared_hidden` states its width outright (Qwen2-MoE)
    const sharedHidden = moe.num('shared_hidden') ?? hidden * shared;
    swiglu(g, `${prefix}.mlp.shared_experts`, input, `${output}.shared`, loc, dim, sharedHidden, normal);
    let sharedOut = `${output}.shared`;
    if (moe.bool('shared_gate') ?? false) {
      // Qwen2-MoE's `mlp.shared_expert_gate`: σ(x·wᵀ) per token scales the shared experts' output
      g.node('moe.shared_gate', [input, sharedOut], [`${output}.shared_gated`], loc, {
        params: [g.param(`${prefix}.mlp.shared_expert_gate.weight`, [1, dim], normal)],
      });
      sharedOut = `${output}.shared_gated`;
    }
    g.node('add', [routed, sharedOut], [output], loc);
  }
  const losses: { value: string; weight: number }[] = [];
  const aux = router.sub('aux_loss');
  if (aux && aux.tag !== 'none') {
    const [value] = g.node('loss.balance', [scores, indices], [`${output}.balance_loss`], loc, {
      attrs: { kind: aux.tag ?? 'sequence', alpha: aux.num('alpha') ?? 0, experts, top_k: topK, score: router.str('score') ?? 'sigmoid' },
    });
    losses.push({ value: value!, weight: 1 });
  }
  const z = router.num('z_loss') ?? 0;
  if (z > 0) {
    const [value] = g.node('loss.z', [logits], [`${output}.z_loss`], loc, { attrs: { coef: z } });
    losses.push({ value: value!, weight: 1 });
  }
  return { losses, load };
}

/** The resolved architecture as plain attributes (what `config.json` would say). */
function modelConfig(model: Config): ModelGraph['config'] {
  const attention = model.sub('attention')!;
  const attn: Record<string, AttrValue> = { kind: attention.tag ?? 'mla' };
  // the sizes; the per-layer features (window, q/k norm, biases) are the attention nodes' attributes
  for (const [k, e] of attention.fields) if (typeof e.value === 'number' && k !== 'window') attn[k] = e.value;
  return {
    vocab: model.num('vocab') ?? 0,
    dim: model.num('dim') ?? 0,
    layers: model.num('layers') ?? 0,
    context: model.num('context') ?? 0,
    tie_embeddings: model.bool('tie_embeddings') ?? false,
    norm_eps: model.sub('norm')?.num('eps') ?? 1e-6,
    init_std: initStd(model),
    attention: attn,
    mtp_depth: model.sub('mtp')?.num('depth') ?? 0,
    mtp_weight: model.sub('mtp')?.num('weight') ?? 0,
  };
}
