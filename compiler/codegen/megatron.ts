/**
 * `--emit megatron`: a ready `torchrun` script for Megatron-Core's `pretrain_gpt.py`, one per
 * `pretrain` stage that names a cluster (`on = ...`). The flags were checked against
 * NVIDIA/Megatron-LM `megatron/training/arguments.py`; what Megatron has no flag for is said in a
 * comment rather than guessed. Numbers come from the graph document: the stage's resolved
 * hyper-parameters, its cluster and the model's graph.
 */
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
    const words = g.args.map((a) => (a.flag ? [a.flag, ...(a.value === undefined ? [] : [shellWord(a.value)])].join(' ') : ''));
    const width = Math.min(48, Math.max(...words.map((w) => w.length)));
    g.args.forEach((a, i) => {
      const w = words[i]!;
      if (!a.flag) lines.push(`  # ${a.comment ?? ''}`);
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

function moeArgs(g: Group, moe: MoeFfn, s: ModelStructure, expertParallel: number): void {
  g.add('--num-experts', moe.experts, 'routed experts per MoE layer');
  g.add('--moe-layer-freq', layerPattern(s), '0 = dense SwiGLU layer, 1 = MoE layer');
  g.add('--moe-ffn-hidden-size', moe.hidden, 'per routed expert');
  if (moe.shared > 0) g.add('--moe-shared-expert-intermediate-size', moe.hidden * moe.shared, `${moe.shared} shared expert${moe.shared === 1 ? '' : 's'} × ${moe.hidden}`);
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
  if (moe.biasRate !== null) {
    g.add('--moe-router-enable-expert-bias', undefined, 'auxiliary-loss-free balancing: selection-only bias');
    g.add('--moe-router-bias-update-rate', pyFloat(moe.biasRate));
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
  model.add('--position-embedding-type', 'rope');
  const theta = Math.round(s.rope.theta);
  model.add('--rotary-base', theta, theta === s.rope.theta ? undefined : `the spec says ${s.rope.theta}; Megatron reads an integer`);
  const scaling = s.rope.scaling;
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
  } else if (scaling.kind !== 'none') {
    model.note(`WARNING: ${scaling.kind} rope scaling is not available for non-MLA attention in Megatron`);
  }
  model.add('--normalization', 'RMSNorm');
  model.add('--norm-epsilon', pyFloat(s.normEps));
  model.add('--swiglu');
  if (!s.tied) model.add('--untie-embeddings-and-output-weights');
  else model.note('embeddings tied to the output head (Megatron default)');
  model.add('--disable-bias-linear');
  model.add('--attention-dropout', '0.0', 'the spec has no dropout; Megatron defaults to 0.1');
  model.add('--hidden-dropout', '0.0');
  model.add('--init-method-std', pyFloat(s.initStd));
  const groups = [model];
  if (attention.kind === 'mla') {
    const mla = new Group('MLA_ARGS', 'multi-head latent attention');
    mla.add('--multi-latent-attention');
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
    moeArgs(moe, moeCheck.moe, s, ep);
    groups.push(moe);
  }
  if (s.mtp.length > 0) {
    const mtp = new Group('MTP_ARGS', 'multi-token prediction');
    mtp.add('--mtp-num-layers', s.mtp.length);
    mtp.add('--mtp-loss-scaling-factor', pyFloat(s.mtpWeight), 'λ: the mean of the MTP losses is scaled by it');
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
  training.add('--seed', hyper.seed);
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
  data.add('--data-path', '$DATA_PATH', dataName ? `data ${dataName}, preprocessed with tools/preprocess_data.py` : undefined);
  const split = dataAttrs.split;
  const valid = split !== null && typeof split === 'object' && !Array.isArray(split) && typeof (split as Attrs).valid === 'number' ? ((split as Attrs).valid as number) : undefined;
  if (valid !== undefined) {
    const v = Math.round(valid * 1000) / 10;
    data.add('--split', `${pyNumber(100 - v)},${pyNumber(v)},0`, 'train, validation, test');
  }
  const tokenizer = hyper.tokenizer;
  data.add('--tokenizer-type', 'HuggingFaceTokenizer');
  data.add('--tokenizer-model', '$TOKENIZER', tokenizer ? `tokenizer ${tokenizer}` : undefined);
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

  const tokenizerAttrs: Attrs = (tokenizer && doc.plan.tokenizers[tokenizer]) || {};
  const tokenizerVocab = typeof tokenizerAttrs.vocab === 'number' ? `vocab ${tokenizerAttrs.vocab}` : undefined;
  const tokenizerKind = typeof tokenizerAttrs.kind === 'string' ? tokenizerAttrs.kind : undefined;
  const tokenizerText = tokenizer ? `${tokenizer} (${[tokenizerKind, tokenizerVocab].filter(Boolean).join(', ')})` : 'the model';
  const source = typeof dataAttrs.source === 'string' ? dataAttrs.source : undefined;
  const header = [
    '#!/usr/bin/env bash',
    `# ${stage.name}.megatron.sh: Megatron-Core pretraining for stage ${stage.name} of ${doc.source}:`,
    `# model ${graph.name} on cluster ${clusterName}, ${devices} devices = ${nodes} node${nodes === 1 ? '' : 's'} × ${perNode}.`,
    '# Generated by moe compile --emit megatron. Run it on every node with NODE_RANK set (0 .. nodes-1).',
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
    'NODE_RANK=${NODE_RANK:-0}',
    'MASTER_ADDR=${MASTER_ADDR:-localhost}',
    'MASTER_PORT=${MASTER_PORT:-6000}',
    ...(tp > 1 ? ['export CUDA_DEVICE_MAX_CONNECTIONS=1   # required by tensor parallelism on Hopper'] : []),
    '',
  ];
  const launch = [
    `torchrun --nproc_per_node=${perNode} --nnodes=${nodes} --node_rank="$NODE_RANK" \\`,
    '  --master_addr="$MASTER_ADDR" --master_port="$MASTER_PORT" \\',
    '  "$MEGATRON_LM/pretrain_gpt.py" \\',
    ...groups
      .filter((g) => g.args.some((a) => a.flag))
      .map((g, i, all) => `  "\${${g.name}[@]}"${i === all.length - 1 ? '' : ' \\'}`),
  ];
  // a group of comments only would be an empty bash array, which `set -u` refuses on old bash
  const rendered = render(groups.filter((g) => g.args.some((a) => a.flag)));
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
