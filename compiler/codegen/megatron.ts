/**
 * `--emit megatron`: a ready `torchrun` script for Megatron-Core's `pretrain_gpt.py`, one per
 * `pretrain` stage that names a cluster (`on = ...`). The flags were checked against
 * NVIDIA/Megatron-LM `megatron/training/arguments.py`; what Megatron has no flag for is said in a
 * comment rather than guessed. Numbers come from the graph document: the stage's resolved
 * hyper-parameters, its cluster and the model's graph.
 */
import { attrsOf } from '../../ir/attrs.js';
import type { View } from '../../ir/fields.js';
import {
  CHECKPOINT_HYPER,
  EVAL_HYPER,
  MEGATRON_HYPER,
  OPTIMIZER_HYPER,
  PARALLEL_HYPER,
  SCHEDULE_HYPER,
  clusterOf,
  hyperBlock,
  stageHyper,
} from '../../ir/plan-fields.js';
import type { AttrValue, GraphDocument, StagePlan } from '../../ir/types.js';
import { MEGATRON_VOCAB_DIVISOR } from '../check/rules/megatron-vocab.js';
import { BYTE_TOKENIZER_SIZE } from '../check/rules/tokenizer-vocab.js';
import { modelStructure, uniformDense, uniformMoe, type ModelStructure, type MoeFfn } from '../../ir/structure.js';

export type MegatronResult = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly reason: string };

type Attrs = { readonly [k: string]: AttrValue };

/** A number as Python's argparse reads it, without float noise (0.00022 × 0.0333 → 0.000007326). */
export function pyNumber(n: number): string {
  return String(Number(n.toPrecision(8)));
}

/** A float flag's value: always with a decimal point or exponent, so it reads as a float. */
function pyFloat(n: number): string {
  const s = pyNumber(n);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

interface Arg {
  readonly flag?: string;
  readonly value?: string;
  readonly comment?: string;
  /** Shell words written as they are: an array the header fills (`"${DATA_SOURCE[@]}"`). */
  readonly raw?: string;
}

class Group {
  readonly args: Arg[] = [];
  constructor(
    readonly name: string,
    readonly title: string,
  ) {}
  add(flag: string, value?: string | number, comment?: string): this {
    this.args.push({ flag, ...(value === undefined ? {} : { value: typeof value === 'number' ? pyNumber(value) : value }), ...(comment ? { comment } : {}) });
    return this;
  }
  /** Flags the header chooses at run time, spliced in from a bash array. */
  array(name: string, comment?: string): this {
    this.args.push({ raw: `"\${${name}[@]}"`, ...(comment ? { comment } : {}) });
    return this;
  }
  note(comment: string): this {
    this.args.push({ comment });
    return this;
  }
}

/** A shell word: plain when safe, else double-quoted (variables stay expanded) or single-quoted. */
function shellWord(s: string): string {
  if (/^[A-Za-z0-9._/:=+,@%-]+$/.test(s)) return s;
  if (/^\$[A-Za-z_][A-Za-z0-9_]*(\/[A-Za-z0-9._/-]*)?$/.test(s)) return `"${s}"`;
  if (!/[$`"\\!]/.test(s)) return `"${s}"`;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Text safe inside a double-quoted shell word and a one-line comment. */
function plain(s: string): string {
  return s.replace(/[`$"\\!{}\n]/g, '');
}

function render(groups: readonly Group[]): string {
  const lines: string[] = [];
  for (const g of groups) {
    if (g.args.length === 0) continue;
    lines.push(`# ${g.title}`, `${g.name}=(`);
    const words = g.args.map((a) => a.raw ?? (a.flag ? [a.flag, ...(a.value === undefined ? [] : [shellWord(a.value)])].join(' ') : ''));
    const width = Math.min(48, Math.max(...words.map((w) => w.length)));
    g.args.forEach((a, i) => {
      const w = words[i]!;
      if (!a.flag && !a.raw) lines.push(`  # ${a.comment ?? ''}`);
      else if (a.comment) lines.push(`  ${w.padEnd(width)}  # ${a.comment}`);
      else lines.push(`  ${w}`);
    });
    lines.push(')', '');
  }
  return lines.join('\n');
}

/** `([0]*3+[1]*58)`: Megatron's per-layer pattern, 1 = MoE layer. */
export function layerPattern(s: ModelStructure): string {
  const kinds = s.layers.map((l) => (l.ffn.kind === 'moe' ? 1 : 0));
  const parts: string[] = [];
  let i = 0;
  while (i < kinds.length) {
    let j = i;
    while (j + 1 < kinds.length && kinds[j + 1] === kinds[i]) j++;
    parts.push(`[${kinds[i]}]*${j - i + 1}`);
    i = j + 1;
  }
  return `(${parts.join('+')})`;
}

/** A stage scalar (`bias_rate`, `mtp_weight`): a constant, or breakpoints `[fraction, value]` (§1.10). */
type StageScalar = number | readonly (readonly [number, number])[];

/** The stage's scalar, or undefined when the stage does not set it (the model's value holds). */
function stageScalar(stage: StagePlan, key: 'bias_rate' | 'mtp_weight'): StageScalar | undefined {
  const attr = stage.hyper[key];
  if (typeof attr === 'number') return attr;
  if (!Array.isArray(attr)) return undefined;
  const points = (attr as readonly AttrValue[]).flatMap((p): (readonly [number, number])[] => {
    if (Array.isArray(p) && typeof p[0] === 'number' && typeof p[1] === 'number') return [[p[0], p[1]]];
    const r = p !== null && typeof p === 'object' && !Array.isArray(p) ? (p as Attrs) : {};
    return typeof r.at === 'number' && typeof r.value === 'number' ? [[r.at, r.value]] : [];
  });
  return points.length > 0 ? points : undefined;
}

/**
 * Megatron holds these scalars constant for the whole run. For a schedule, the closest constant is
 * the value held over the most steps (the runtime's rule: a breakpoint applies from step
 * round(fraction × steps); before the first, the first value); the WARNING lines say what differs
 * and how to follow the schedule exactly: stop at the breakpoint and resume with the next value.
 */
function constantOf(schedule: StageScalar, steps: number, flag: string, what: string): { value: number; warnings: string[] } {
  if (typeof schedule === 'number') return { value: schedule, warnings: [] };
  const points = [...schedule].map(([f, v]) => [Math.min(steps, Math.round(f * steps)), v] as const).sort((a, b) => a[0] - b[0]);
  const held = new Map<number, number>();
  let from = 0;
  let value = points[0]![1];
  for (const [at, v] of points) {
    held.set(value, (held.get(value) ?? 0) + (at - from));
    from = at;
    value = v;
  }
  held.set(value, (held.get(value) ?? 0) + (steps - from));
  const [best, bestSteps] = [...held].reduce((a, b) => (b[1] > a[1] ? b : a));
  if (held.size === 1) return { value: best, warnings: [] };
  const text = points.map(([at, v]) => `${pyNumber(v)} from step ${at}`).join(', ');
  const changes: string[] = [];
  points.reduce((before, [at, v]) => {
    if (at > 0 && v !== before) changes.push(`step ${at} (then ${flag} ${pyFloat(v)})`);
    return v;
  }, points[0]![1]);
  return {
    value: best,
    warnings: [
      `WARNING: the spec's ${what} schedule is ${text}; Megatron holds ${flag} constant:`,
      `${pyNumber(best)}, the value of ${bestSteps} of the ${steps} steps. To follow the schedule, stop at`,
      `${changes.join(', ')} with --exit-interval and resume from the checkpoint with the new value.`,
    ],
  };
}

/** Where the shared experts' width comes from: whole routed-expert widths, or `shared_hidden` stated outright. */
function sharedComment(moe: MoeFfn): string {
  if (moe.sharedHidden === moe.shared * moe.hidden) return `${moe.shared} shared expert${moe.shared === 1 ? '' : 's'} × ${moe.hidden}`;
  return 'one shared expert of its own width (shared_hidden)';
}

function moeArgs(g: Group, moe: MoeFfn, s: ModelStructure, expertParallel: number, biasRate: StageScalar | undefined, steps: number): void {
  g.add('--num-experts', moe.experts, 'routed experts per MoE layer');
  g.add('--moe-layer-freq', layerPattern(s), '0 = dense SwiGLU layer, 1 = MoE layer');
  g.add('--moe-ffn-hidden-size', moe.hidden, 'per routed expert');
  if (moe.sharedHidden > 0) g.add('--moe-shared-expert-intermediate-size', moe.sharedHidden, sharedComment(moe));
  if (moe.sharedGate) g.add('--moe-shared-expert-gate', undefined, 'sigmoid gate on the shared experts (Qwen2-MoE); a recent Megatron-Core flag');
  g.add('--moe-router-topk', moe.topK);
  g.add('--moe-router-score-function', moe.score);
  if (moe.score === 'softmax' && !moe.normalize) {
    g.add('--moe-router-pre-softmax', undefined, 'softmax over all experts, top-k weights not renormalised');
  } else if (moe.score === 'softmax') {
    g.note('softmax over the top-k scores (Megatron default) equals softmax over all experts renormalised over the top-k');
  } else if (!moe.normalize && moe.topK > 1) {
    g.note('WARNING: the spec does not renormalise the sigmoid top-k weights; Megatron always does (no flag turns it off)');
  }
  if (moe.groups > 1) {
    g.add('--moe-router-num-groups', moe.groups, 'group-limited routing');
    g.add('--moe-router-group-topk', moe.topGroups);
    // Megatron scores a group by the sum of its top (topk // group_topk) scores
    const megatronTop = Math.floor(moe.topK / moe.topGroups);
    const specTop = moe.groupScore === 'top2_sum' ? Math.min(2, moe.experts / moe.groups) : 1;
    if (moe.topGroups < moe.groups && megatronTop !== specTop) {
      const spec = moe.groupScore === 'top2_sum' ? 'the sum of its top-2 scores' : 'its best score';
      g.note(`WARNING: the spec scores an expert group by ${spec}; Megatron by the sum of its top topk // group_topk = ${megatronTop}`);
    }
  }
  if (moe.scale !== 1) g.add('--moe-router-topk-scaling-factor', pyFloat(moe.scale), 'routed_scaling_factor');
  // the spec's router casts x and W to fp32 (specs/ir.md §1, §4.9)
  g.add('--moe-router-dtype', 'fp32', 'router logits and scores in fp32, as the spec computes them');
  if (moe.biasRate !== null) {
    g.add('--moe-router-enable-expert-bias', undefined, 'auxiliary-loss-free balancing: selection-only bias');
    const rate = constantOf(biasRate ?? moe.biasRate, steps, '--moe-router-bias-update-rate', 'bias_rate γ');
    for (const w of rate.warnings) g.note(w);
    g.add('--moe-router-bias-update-rate', pyFloat(rate.value), biasRate === undefined ? 'the router\'s rate' : 'the stage\'s bias_rate γ');
  } else if (biasRate !== undefined) {
    g.note('the stage\'s bias_rate has no effect: no router of the model has bias balancing');
  }
  const balance = moe.balance ? (moe.balance.kind === 'sequence' ? 'seq_aux_loss' : 'aux_loss') : 'none';
  g.add('--moe-router-load-balancing-type', balance, moe.balance ? `${moe.balance.kind}-wise balance loss` : 'no auxiliary balance loss');
  if (moe.balance) g.add('--moe-aux-loss-coeff', pyFloat(moe.balance.alpha));
  if (moe.zLoss > 0) g.add('--moe-z-loss-coeff', pyFloat(moe.zLoss));
  if (moe.capacity !== null) {
    g.add('--moe-expert-capacity-factor', pyFloat(moe.capacity), 'tokens over capacity are dropped');
    g.add('--moe-token-drop-policy', 'position', 'the earliest tokens keep their slots, as in the IR');
  }
  else g.note('dropless: --moe-expert-capacity-factor left unset');
  if (expertParallel > 1) g.add('--moe-token-dispatcher-type', 'alltoall', 'recommended with expert parallelism');
}

/**
 * Megatron's initialize refuses a seed that is not positive ("Seed (0) should be a positive
 * integer", measured on Megatron-Core 0.20 with bench/megatron/run.sh); its random streams differ
 * from ours whatever the seed (no run reproduces the other's numbers), so 0 — every spec's default —
 * runs as 1, and the flag's comment says so.
 */
function megatronSeed(g: Group, seed: number): void {
  if (seed > 0) g.add('--seed', seed);
  else g.add('--seed', 1, `the spec's seed ${seed}: Megatron takes positive seeds only`);
}

/** q/k norm, q/k/v biases and sliding windows (issue 20): a flag where Megatron has one, else a WARNING. */
function attentionFeatures(model: Group, s: ModelStructure): void {
  const features = s.layers[0]!.features;
  if (features.qkvBias) model.add('--add-qkv-bias', undefined, 'biases on q, k and v only (o has none)');
  if (features.qkNorm === 'head') model.add('--qk-layernorm', undefined, 'RMSNorm of each head of q and k before rotary');
  if (features.qkNorm === 'full') {
    model.add('--qk-layernorm', undefined, 'the closest setting: per head');
    model.note('WARNING: the spec normalises q and k over all heads at once (OLMoE); Megatron\'s --qk-layernorm normalises');
    model.note('each head separately, with a weight of head_dim: no flag gives the full-width norm');
  }
  const windows = s.layers.map((l) => l.features.window);
  const window = windows.find((w) => w !== null);
  if (window === undefined || window === null) return;
  model.add('--window-size', `${window - 1},0`, `sliding window ${window}: a query sees itself and ${window - 1} tokens before it`);
  if (windows.some((w) => w === null)) {
    model.add('--window-attn-skip-freq', `[${windows.map((w) => (w === null ? 0 : 1)).join(',')}]`, '1 = sliding-window layer, 0 = full attention');
  }
  if (s.mtp.length > 0) model.note('WARNING: the spec\'s MTP modules attend fully; Megatron applies --window-size to them too');
}

function architecture(s: ModelStructure, dense: number | null, moe: MoeFfn | null): Group[] {
  const model = new Group('MODEL_ARGS', `model ${s.graph.name}`);
  const attention = s.layers[0]!.attention;
  model.add('--num-layers', s.layers.length, s.mtp.length > 0 ? 'main layers; the MTP modules come on top' : undefined);
  model.add('--hidden-size', s.dim);
  model.add('--ffn-hidden-size', dense ?? moe?.hidden ?? 0, dense !== null ? 'dense SwiGLU layers' : 'no dense layers: the expert size');
  model.add('--num-attention-heads', attention.heads);
  if (attention.kind === 'gqa') {
    if (attention.kvHeads !== attention.heads) {
      model.add('--group-query-attention');
      model.add('--num-query-groups', attention.kvHeads, 'key/value heads');
    }
    model.add('--kv-channels', attention.headDim, 'head_dim');
  }
  model.add('--max-position-embeddings', s.context);
  const scaling = s.rope.scaling;
  const gqaYarn = attention.kind !== 'mla' && scaling.kind === 'yarn';
  model.add('--position-embedding-type', gqaYarn ? 'yarn' : 'rope', gqaYarn ? 'YaRN RoPE (Megatron-Core >= 0.18)' : undefined);
  const theta = Math.round(s.rope.theta);
  model.add('--rotary-base', theta, theta === s.rope.theta ? undefined : `the spec says ${s.rope.theta}; Megatron reads an integer`);
  if (attention.kind === 'mla') {
    if (scaling.kind === 'yarn') {
      model.add('--rope-type', 'yarn');
      model.add('--rotary-scaling-factor', pyFloat(scaling.factor));
      model.add('--mscale', pyFloat(scaling.mscale));
      model.add('--mscale-all-dim', pyFloat(scaling.mscaleAllDim));
      const defaults = scaling.originalContext === 4096 && scaling.betaFast === 32 && scaling.betaSlow === 1;
      model.note(
        `YaRN original context ${scaling.originalContext}, beta_fast ${scaling.betaFast}, beta_slow ${scaling.betaSlow} have no flags: ` +
          (defaults ? 'they equal MLATransformerConfig defaults' : 'set them in MLATransformerConfig'),
      );
    } else {
      model.add('--rope-type', 'rope', 'plain RoPE (MLA defaults to YaRN)');
      if (scaling.kind === 'linear') model.note(`WARNING: linear rope scaling ×${scaling.factor} has no MLA flag`);
    }
  } else if (scaling.kind === 'linear' && Number.isInteger(scaling.factor)) {
    model.add('--rotary-seq-len-interpolation-factor', scaling.factor, 'linear position interpolation');
  } else if (scaling.kind === 'yarn') {
    model.add('--rotary-scaling-factor', pyFloat(scaling.factor));
    model.add('--mscale', pyFloat(scaling.mscale));
    model.add('--mscale-all-dim', pyFloat(scaling.mscaleAllDim));
    model.add('--yarn-original-max-position-embeddings', scaling.originalContext, 'Megatron-Core >= 0.19');
    model.add('--yarn-beta-fast', pyFloat(scaling.betaFast));
    model.add('--yarn-beta-slow', pyFloat(scaling.betaSlow));
    model.note('the correction range is rounded to integers, as in the spec (Megatron default)');
  } else if (scaling.kind === 'linear') {
    model.note(`WARNING: linear rope scaling ×${scaling.factor} is not an integer; Megatron reads --rotary-seq-len-interpolation-factor as one`);
  }
  model.add('--normalization', 'RMSNorm');
  model.add('--norm-epsilon', pyFloat(s.normEps));
  model.add('--swiglu');
  if (!s.tied) model.add('--untie-embeddings-and-output-weights');
  else model.note('embeddings tied to the output head (Megatron default)');
  model.add('--disable-bias-linear');
  attentionFeatures(model, s);
  model.add('--attention-dropout', '0.0', 'the spec has no dropout; Megatron defaults to 0.1');
  model.add('--hidden-dropout', '0.0');
  model.add('--init-method-std', pyFloat(s.initStd));
  const groups = [model];
  if (attention.kind === 'mla') {
    const mla = new Group('MLA_ARGS', 'multi-head latent attention');
    mla.add('--multi-latent-attention');
    // without it Megatron's MLA has no RMSNorm on the compressed q and kv (its q_/kv_layernorm are identities)
    mla.add('--qk-layernorm', undefined, 'the RMSNorms of the q and kv latents (specs/ir.md, attention.mla)');
    const node = s.graph.nodes.find((n) => n.op === 'attention.mla');
    const latentEps = node ? attrsOf(node, 'attention.mla').eps : s.normEps;
    if (latentEps !== s.normEps) {
      mla.note(`WARNING: the spec normalises the latents with eps ${pyNumber(latentEps)}; Megatron uses --norm-epsilon ${pyFloat(s.normEps)} there too`);
    }
    if (attention.qRank > 0) mla.add('--q-lora-rank', attention.qRank);
    else mla.note('no query compression: --q-lora-rank left unset (plain q projection)');
    mla.add('--kv-lora-rank', attention.kvRank);
    mla.add('--qk-head-dim', attention.nopeDim, 'per-head query/key size without rope');
    mla.add('--qk-pos-emb-head-dim', attention.ropeDim, 'decoupled rope part');
    mla.add('--v-head-dim', attention.vDim);
    groups.push(mla);
  }
  return groups;
}

function schedule(g: Group, stage: StagePlan, clip: number, steps: number): void {
  const opt = hyperBlock(stage, 'optimizer', OPTIMIZER_HYPER);
  const lr = opt.lr;
  const sched = hyperBlock(stage, 'schedule', SCHEDULE_HYPER);
  const kind = sched.kind;
  const warmup = sched.warmup_steps;
  g.add('--lr', pyFloat(lr), 'peak');
  const milestones = Array.isArray(sched.milestones) ? (sched.milestones as readonly Milestone[]) : [];
  if (kind === 'cosine' && sched.min_ratio !== undefined) {
    const ratio = sched.min_ratio;
    g.add('--min-lr', pyFloat(lr * ratio), `${ratio} × lr`);
    g.add('--lr-decay-style', 'cosine');
    g.add('--lr-decay-iters', steps, 'cosine from the end of warmup to the last step');
  } else if (kind === 'multistep' && milestones.length > 0) {
    const first = milestones[0]!;
    const last = milestones[milestones.length - 1]!;
    const start = first.step ?? Math.round(first.fraction * steps);
    const factor = last.factor;
    const steps_ = milestones.map((m) => `× ${m.factor} from step ${m.step}`).join(', ');
    g.note(`the spec's multistep schedule: lr ${steps_}.`);
    g.note('Megatron has no step schedule; the closest is WSD: lr held until the first milestone, then');
    g.note(`annealed over the remaining steps to the final factor (1 - sqrt decay, fastest at the start).`);
    g.add('--min-lr', pyFloat(lr * factor), `${factor} × lr`);
    g.add('--lr-decay-style', 'WSD');
    g.add('--lr-wsd-decay-style', 'minus_sqrt');
    g.add('--lr-wsd-decay-iters', Math.max(1, steps - start), `steps ${start}..${steps}`);
  } else {
    g.add('--min-lr', pyFloat(lr));
    g.add('--lr-decay-style', 'constant', 'constant after warmup');
  }
  g.add('--lr-warmup-iters', warmup, 'linear warmup from 0');
  g.add('--weight-decay', pyFloat(opt.weight_decay), 'AdamW, not on norms');
  g.add('--adam-beta1', pyFloat(opt.betas[0]!));
  g.add('--adam-beta2', pyFloat(opt.betas[1]!));
  g.add('--adam-eps', pyFloat(opt.eps));
  g.add('--clip-grad', pyFloat(clip), clip === 0 ? 'off' : 'global gradient-norm clip');
}

/** A multistep milestone as the lowering writes it (compiler/lower/plan.ts). */
interface Milestone {
  readonly fraction: number;
  readonly step: number | null;
  readonly factor: number;
}

/** The stage's parallel layout; without a `parallel` block, data parallelism fills the cluster. */
function layout(stage: StagePlan, devices: number): View<typeof PARALLEL_HYPER> {
  if (stage.hyper.parallel !== undefined) return hyperBlock(stage, 'parallel', PARALLEL_HYPER);
  return { data: devices, tensor: 1, pipeline: 1, expert: 1, micro_batches: 1, zero: 0, recompute: 'selective', first_stage_layers: undefined, last_stage_layers: undefined };
}

/**
 * Megatron-Core builds its embedding from the tokenizer's size padded up to a multiple of
 * `--make-vocab-size-divisible-by` × tensor parallel; the spec's vocab is the size the model must
 * have. Keep the default 128 where it pads to vocab (the tokenizer's size known, or vocab a multiple
 * of 128 × TP when it is not); else divisor vocab / TP, which pads any tokenizer of at most vocab
 * tokens to vocab exactly; when vocab is no multiple of TP no divisor does (the checker warns, MOE5008).
 */
function vocabArgs(g: Group, vocab: number, tp: number, tokens: number | undefined): void {
  if (vocab % tp !== 0) {
    g.note(`WARNING: the spec's vocab ${vocab} is not a multiple of tensor parallel ${tp}: Megatron pads the vocabulary to a multiple of it, so the embedding will not have the spec's size`);
    return;
  }
  const padded = (n: number, divisor: number): number => Math.ceil(n / (divisor * tp)) * divisor * tp;
  if (tokens !== undefined && tokens > vocab) {
    g.note(`WARNING: the stage's tokenizer has ${tokens} tokens, more than the spec's vocab ${vocab}: no divisor pads it to the spec's size`);
    return;
  }
  const keepDefault = tokens !== undefined && tokens <= vocab ? padded(tokens, MEGATRON_VOCAB_DIVISOR) === vocab : vocab % (MEGATRON_VOCAB_DIVISOR * tp) === 0;
  const divisor = keepDefault ? MEGATRON_VOCAB_DIVISOR : vocab / tp;
  const size = tokens === undefined ? `a tokenizer of ${keepDefault ? vocab - MEGATRON_VOCAB_DIVISOR * tp + 1 : 1} .. ${vocab} tokens` : `the tokenizer's ${tokens} tokens`;
  g.add(
    '--make-vocab-size-divisible-by',
    divisor,
    keepDefault ? `Megatron default: ${size} pad to the spec's vocab ${vocab}` : `not the default 128: ${size} pad to the spec's vocab ${vocab}; 128 gives ${padded(tokens ?? vocab, MEGATRON_VOCAB_DIVISOR)}`,
  );
}

/** The Megatron-Core versions the flags of `--emit megatron` exist in (checked against 0.20.0's arguments.py). */
export const MEGATRON_CHECKED = '0.20';

/** The version range a script needs: its newest flag decides the floor. */
export function megatronRange(s: ModelStructure): string {
  const gqaYarn = s.layers[0]!.attention.kind !== 'mla' && s.rope.scaling.kind === 'yarn';
  const floor = gqaYarn
    ? '>= 0.19 (--yarn-beta-fast/--yarn-beta-slow; 0.18 added --position-embedding-type yarn)'
    : '>= 0.14 (--rope-type; older versions were not checked)';
  return `${floor}; its flags were checked against ${MEGATRON_CHECKED}`;
}

/** The script of one pretrain stage, or why there is none. */
export function megatronScript(doc: GraphDocument, stage: StagePlan): MegatronResult {
  const fail = (reason: string): MegatronResult => ({ ok: false, reason: `stage ${stage.name}: ${reason}` });
  if (stage.kind !== 'pretrain') return fail(`a ${stage.kind} stage; Megatron scripts are written for pretrain stages`);
  if (!stage.model) return fail('has no model');
  const graph = doc.models.find((m) => m.name === stage.model);
  if (!graph) return fail(`its model ${stage.model} is not in the document`);
  if (typeof stage.hyper.on !== 'string') return fail('has no cluster (on = CLUSTER)');
  if (typeof stage.hyper.seq_len !== 'number') return fail('has no seq_len');
  if (typeof stage.hyper.batch_sequences !== 'number') return fail('has no batch in sequences');
  const hyper = stageHyper(stage, MEGATRON_HYPER);
  const clusterName = hyper.on!;
  const clusterBlock = doc.plan.clusters[clusterName];
  if (!clusterBlock) return fail(`its cluster ${clusterName} is not in the document`);
  const devices = clusterOf(clusterName, clusterBlock).devices;
  const steps = hyper.steps;
  if (!steps) return fail('has no step count (a length in epochs depends on the data)');
  const seqLen = hyper.seq_len;
  const batch = hyper.batch_sequences;

  const s = modelStructure(graph);
  if (s.layers.length === 0) return fail(`model ${graph.name} has no layers`);
  const moeCheck = uniformMoe(s.layers);
  if (!moeCheck.ok) return fail(`Megatron has one MoE configuration for all layers: ${moeCheck.reason}`);
  const denseCheck = uniformDense(s.layers);
  if (!denseCheck.ok) return fail(`Megatron has one --ffn-hidden-size: ${denseCheck.reason}`);

  const parallel = layout(stage, devices);
  const { tensor: tp, pipeline: pp, expert: ep, data: dp, micro_batches: microBatches, zero, recompute } = parallel;
  const perNode = [8, 7, 6, 5, 4, 3, 2, 1].find((n) => devices % n === 0)!;
  const nodes = devices / perNode;
  const warnings: string[] = [];
  if (dp * tp * pp !== devices) warnings.push(`data ${dp} × tensor ${tp} × pipeline ${pp} = ${dp * tp * pp} ranks, but cluster ${clusterName} has ${devices} devices`);
  const micro = batch / (dp * microBatches);
  if (!Number.isInteger(micro)) warnings.push(`the batch of ${batch} sequences does not split into ${dp} data ranks × ${microBatches} micro-batches`);
  const microBatch = Math.max(1, Math.floor(micro));

  const groups = architecture(s, denseCheck.hidden, moeCheck.moe);
  if (moeCheck.moe) {
    const moe = new Group('MOE_ARGS', 'mixture of experts');
    moeArgs(moe, moeCheck.moe, s, ep, stageScalar(stage, 'bias_rate'), steps);
    groups.push(moe);
  }
  if (s.mtp.length === 0 && stageScalar(stage, 'mtp_weight') !== undefined) {
    warnings.push(`the stage's mtp_weight has no effect: model ${graph.name} has no MTP modules`);
  }
  if (s.mtp.length > 0) {
    const mtp = new Group('MTP_ARGS', 'multi-token prediction');
    mtp.add('--mtp-num-layers', s.mtp.length);
    const stageWeight = stageScalar(stage, 'mtp_weight');
    const weight = constantOf(stageWeight ?? s.mtpWeight, steps, '--mtp-loss-scaling-factor', 'mtp_weight λ');
    for (const w of weight.warnings) mtp.note(w);
    mtp.add('--mtp-loss-scaling-factor', pyFloat(weight.value), `λ${stageWeight === undefined ? '' : ' (the stage\'s mtp_weight)'}: the mean of the MTP losses is scaled by it`);
    groups.push(mtp);
  }

  const training = new Group('TRAINING_ARGS', `training (stage ${stage.name})`);
  training.add('--seq-length', seqLen);
  training.add('--micro-batch-size', microBatch, `${batch} / (${dp} data ranks × ${microBatches} micro-batches)`);
  training.add('--global-batch-size', batch, 'sequences per step');
  training.add('--train-iters', steps);
  schedule(training, stage, hyper.clip_grad, steps);
  const precision = hyper.precision;
  if (precision === 'bf16') training.add('--bf16');
  else if (precision === 'fp16') training.add('--fp16');
  else training.note('fp32 training: neither --bf16 nor --fp16');
  megatronSeed(training, hyper.seed);
  if (recompute === 'full') {
    training.add('--recompute-granularity', 'full', 'keep only layer inputs');
    training.add('--recompute-method', 'uniform');
    training.add('--recompute-num-layers', 1);
  } else {
    training.add('--recompute-granularity', 'selective', 'recompute attention scores (core_attn)');
  }
  groups.push(training);

  const par = new Group('PARALLEL_ARGS', `parallelism on ${clusterName} (${devices} devices, data parallel ${dp})`);
  par.add('--tensor-model-parallel-size', tp);
  par.add('--pipeline-model-parallel-size', pp);
  if (moeCheck.moe) par.add('--expert-model-parallel-size', ep);
  else if (ep > 1) par.note(`expert parallel ${ep} ignored: the model has no MoE layers`);
  const firstStage = parallel.first_stage_layers;
  const lastStage = parallel.last_stage_layers;
  if (firstStage !== undefined) par.add('--decoder-first-pipeline-num-layers', firstStage);
  if (lastStage !== undefined) par.add('--decoder-last-pipeline-num-layers', lastStage);
  if (zero >= 1) par.add('--use-distributed-optimizer', undefined, `ZeRO-${zero}: optimizer state sharded over data ranks`);
  if (zero >= 2) par.note(`ZeRO-${zero}: the distributed optimizer reduce-scatters gradients too${zero === 3 ? '; weight sharding (ZeRO-3) needs Megatron FSDP, not set here' : ''}`);
  groups.push(par);

  const data = new Group('DATA_ARGS', 'data, tokenizer, checkpoints');
  const dataName = typeof hyper.data === 'string' ? hyper.data : undefined;
  const dataAttrs: Attrs = (dataName && doc.plan.data[dataName]) || {};
  data.array('DATA_SOURCE', dataName ? `data ${dataName}: --data-path (preprocessed with tools/preprocess_data.py) or --mock-data` : '--data-path or --mock-data');
  const split = dataAttrs.split;
  const valid = split !== null && typeof split === 'object' && !Array.isArray(split) && typeof (split as Attrs).valid === 'number' ? ((split as Attrs).valid as number) : undefined;
  if (valid !== undefined) {
    const v = Math.round(valid * 1000) / 10;
    data.add('--split', `${pyNumber(100 - v)},${pyNumber(v)},0`, 'train, validation, test');
  }
  const tokenizer = hyper.tokenizer;
  data.array('TOKENIZER_ARGS', tokenizer ? `tokenizer ${tokenizer}: a Hugging Face tokenizer or the NullTokenizer` : undefined);
  const tokenizerAttrs: Attrs = (tokenizer && doc.plan.tokenizers[tokenizer]) || {};
  const tokens = tokenizerAttrs.kind === 'byte' ? BYTE_TOKENIZER_SIZE : typeof tokenizerAttrs.vocab === 'number' ? tokenizerAttrs.vocab : undefined;
  vocabArgs(data, s.vocab, tp, tokens);
  data.add('--save', '$CHECKPOINT_DIR');
  data.add('--load', '$CHECKPOINT_DIR', 'resumes when a checkpoint is there');
  const checkpoint = hyperBlock(stage, 'checkpoint', CHECKPOINT_HYPER);
  data.add('--save-interval', checkpoint.every, `keep = ${checkpoint.keep} has no Megatron flag`);
  const evaluation = hyperBlock(stage, 'eval', EVAL_HYPER);
  data.add('--eval-interval', evaluation.every);
  data.add('--eval-iters', evaluation.batches);
  if (stage.from) {
    data.add('--pretrained-checkpoint', '$INIT_CHECKPOINT', 'the checkpoint this stage starts from');
  }
  groups.push(data);

  const tokenizerVocab = typeof tokenizerAttrs.vocab === 'number' ? `vocab ${tokenizerAttrs.vocab}` : undefined;
  const tokenizerKind = typeof tokenizerAttrs.kind === 'string' ? tokenizerAttrs.kind : undefined;
  const tokenizerText = tokenizer ? `${tokenizer} (${[tokenizerKind, tokenizerVocab].filter(Boolean).join(', ')})` : 'the model';
  const source = typeof dataAttrs.source === 'string' ? dataAttrs.source : undefined;
  const header = [
    '#!/usr/bin/env bash',
    `# ${stage.name}.megatron.sh: Megatron-Core pretraining for stage ${stage.name} of ${doc.source}:`,
    `# model ${graph.name} on cluster ${clusterName}, ${devices} devices = ${nodes} node${nodes === 1 ? '' : 's'} × ${perNode}.`,
    '# Generated by moe compile --emit megatron. Run it on every node with NODE_RANK set (0 .. nodes-1).',
    `# Needs Megatron-Core ${megatronRange(s)}.`,
    '# Overrides: the words of MEGATRON_EXTRA_ARGS and the arguments of this script come after the',
    '# flags below, and Megatron keeps the last value of a flag (--train-iters 20, --transformer-impl',
    '# local, --tensor-model-parallel-size 1); NPROC_PER_NODE and NNODES replace the launch layout.',
    `# Smoke test without data or tokenizer: DATA_PATH=mock (--mock-data), TOKENIZER=null (NullTokenizer of ${s.vocab}).`,
    ...warnings.map((w) => `# WARNING: ${w}`),
    'set -euo pipefail',
    '',
    'MEGATRON_LM=${MEGATRON_LM:-/opt/Megatron-LM}   # a Megatron-LM checkout (pretrain_gpt.py)',
    `DATA_PATH=\${DATA_PATH:?set DATA_PATH to the Megatron-preprocessed prefix of data ${plain(dataName ?? '')}${source ? ` (${plain(source)})` : ''}}`,
    `TOKENIZER=\${TOKENIZER:?set TOKENIZER to a Hugging Face tokenizer for ${plain(tokenizerText)}}`,
    `CHECKPOINT_DIR=\${CHECKPOINT_DIR:-checkpoints/${plain(stage.name)}}`,
    ...(stage.from
      ? [
          `INIT_CHECKPOINT=\${INIT_CHECKPOINT:-${'path' in stage.from ? plain(stage.from.path) : `checkpoints/${plain(stage.from.stage)}`}}`,
        ]
      : []),
    `NPROC_PER_NODE=\${NPROC_PER_NODE:-${perNode}}`,
    `NNODES=\${NNODES:-${nodes}}`,
    'NODE_RANK=${NODE_RANK:-0}',
    'MASTER_ADDR=${MASTER_ADDR:-localhost}',
    'MASTER_PORT=${MASTER_PORT:-6000}',
    ...(tp > 1 ? ['export CUDA_DEVICE_MAX_CONNECTIONS=1   # required by tensor parallelism on Hopper'] : []),
    '# Megatron refuses --data-path together with --mock-data',
    'if [[ $DATA_PATH == mock ]]; then DATA_SOURCE=(--mock-data); else DATA_SOURCE=(--data-path "$DATA_PATH"); fi',
    `if [[ $TOKENIZER == null ]]; then TOKENIZER_ARGS=(--tokenizer-type NullTokenizer --vocab-size ${s.vocab})`,
    'else TOKENIZER_ARGS=(--tokenizer-type HuggingFaceTokenizer --tokenizer-model "$TOKENIZER"); fi',
    'read -r -a EXTRA_ARGS <<< "${MEGATRON_EXTRA_ARGS:-}"',
    '',
  ];
  const launch = [
    'torchrun --nproc_per_node="$NPROC_PER_NODE" --nnodes="$NNODES" --node_rank="$NODE_RANK" \\',
    '  --master_addr="$MASTER_ADDR" --master_port="$MASTER_PORT" \\',
    '  "$MEGATRON_LM/pretrain_gpt.py" \\',
    ...groups
      .filter((g) => g.args.some((a) => a.flag || a.raw))
      .map((g) => `  "\${${g.name}[@]}" \\`),
    // ${a[@]+"${a[@]}"}: an empty array is an unbound variable under `set -u` on bash < 4.4
    '  ${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"} "$@"',
  ];
  // a group of comments only would be an empty bash array, which `set -u` refuses on old bash
  const rendered = render(groups.filter((g) => g.args.some((a) => a.flag || a.raw)));
  return { ok: true, text: `${[...header, rendered, ...launch].join('\n')}\n` };
}

/** One `STAGE.megatron.sh` per pretrain stage with a cluster; an error when there is none. */
export function emitMegatron(doc: GraphDocument): { ok: true; files: { name: string; text: string }[] } | { ok: false; reason: string } {
  const files: { name: string; text: string }[] = [];
  const reasons: string[] = [];
  for (const stage of doc.plan.stages) {
    if (stage.kind !== 'pretrain') continue;
    const result = megatronScript(doc, stage);
    if (result.ok) files.push({ name: `${stage.name}.megatron.sh`, text: result.text });
    else reasons.push(result.reason);
  }
  if (files.length > 0) return { ok: true, files };
  if (reasons.length === 0) return { ok: false, reason: `${doc.source} has no pretrain stage` };
  return { ok: false, reason: `no pretrain stage can be written for Megatron: ${reasons.join('; ')}` };
}
