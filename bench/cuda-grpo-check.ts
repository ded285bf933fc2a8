/**
 * `node dist/bench/cuda-grpo-check.js [OUT.json]` on the GPU machine: one GRPO policy update on cuda
 * (runtime/cuda/grpo.ts) against the tfjs update (runtime/rl/update.ts) on the cpu backend, on a
 * fixed rollout batch (four sequences of fixed prompts and completions, fixed advantages, the rollout's
 * log-probabilities near the policy's so some ratios clip, a KL term against a reference of other
 * weights, τ = 0.8, loss = grpo), per spec of bench/cuda-specs.ts, fp32, with and without 2 micro-batches:
 *   1. the reference's log-probabilities within 1e-4 relative;
 *   2. the objective within 1e-4 relative and every parameter's gradient within 1e-4 (relative to
 *      the largest |g| of that parameter); the MTP heads get none on either;
 *   3. after one AdamW step with clipping and weight decay, every parameter within 1e-5 (relative
 *      to its largest |p|) — an element whose gradient is within the tolerance of 0 has no determined
 *      sign in fp32, so its Adam step (±lr) is counted, not judged — and the MTP heads unchanged.
 * Prints one PASS/FAIL line per spec and check, `ALL PASS` or `SOME FAILED` last (exit 1); the figures
 * go as JSON to $OUT/cuda-grpo-check.json (or the first argument).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelGraph } from '../ir/types.js';
import { selectBackend } from '../runtime/backend/select.js';
import { CudaGrpoPolicy, policyParams } from '../runtime/cuda/grpo.js';
import { openCuda, type CudaRuntime } from '../runtime/cuda/runtime.js';
import { ParamStore } from '../runtime/model/params.js';
import { policyRows, type PolicyBatch } from '../runtime/rl/batch.js';
import { grpoObjective } from '../runtime/rl/objective.js';
import { grpoUpdate, partRows, policyLogprobs, referenceLogprobs, type UpdateOptions } from '../runtime/rl/update.js';
import { tf } from '../runtime/tf.js';
import { AdamW, type AdamWConfig } from '../runtime/train/adamw.js';
import { modelOf, relative, SPECS } from './cuda-specs.js';

const PROMPTS = [[3, 17, 42], [8, 1, 2, 9, 4], [11, 12], [5, 6, 7, 30]];
const COMPLETIONS = [[20, 21, 22, 23, 24, 25], [31, 32, 33, 34], [1, 2, 3, 4, 5, 6, 7, 8, 9], [40, 41, 42]];
const ADVANTAGES = [1.1, -0.6, 0.4, -0.9];
const GRAD_TOLERANCE = 1e-4;
const PARAM_TOLERANCE = 1e-5;
const CONFIG: AdamWConfig = { betas: [0.9, 0.95], weightDecay: 0.1, eps: 1e-8 };
const OPTIONS = { clipLow: 0.2, clipHigh: 0.28, kl: 0.05, loss: 'grpo' as const, maxNewTokens: 10, lr: 1e-3, clipGrad: 1.0, temperature: 0.8 };

/** The fixed rollout batch (policyBatch's layout), its rollout log-probabilities the policy's own plus a fixed perturbation. */
async function rolloutBatch(model: ModelGraph, policy: ParamStore, vocab: number): Promise<PolicyBatch> {
  const rows = PROMPTS.length;
  const width = Math.max(...PROMPTS.map((p, i) => p.length + COMPLETIONS[i]!.length));
  const ids = new Int32Array(rows * width);
  const targets = new Int32Array(rows * width);
  const mask = new Float32Array(rows * width);
  let tokens = 0;
  PROMPTS.forEach((prompt, n) => {
    const sequence = [...prompt, ...COMPLETIONS[n]!].map((id) => id % vocab);
    sequence.forEach((id, t) => (ids[n * width + t] = id));
    for (let t = 0; t + 1 < sequence.length; t++) {
      targets[n * width + t] = sequence[t + 1]!;
      if (t + 1 >= prompt.length) {
        mask[n * width + t] = 1;
        tokens++;
      }
    }
  });
  const inputIds = tf.tensor2d(ids, [rows, width], 'int32');
  const targetTensor = tf.tensor2d(targets, [rows, width], 'int32');
  const maskTensor = tf.tensor2d(mask, [rows, width]);
  const own = tf.tidy(() => {
    const { logp, raw } = policyLogprobs(model, policy, { inputIds, targets: targetTensor }, OPTIONS.temperature);
    const out = tf.keep(tf.mul(tf.add(logp, tf.mul(tf.sin(tf.reshape(tf.range(0, rows * width), [rows, width])), 0.25)), maskTensor));
    raw.dispose();
    return out;
  }) as tf.Tensor2D;
  const tensors = { inputIds, targets: targetTensor, mask: maskTensor, advantages: tf.tensor2d(ADVANTAGES, [rows, 1]), oldLogp: own };
  return { ...tensors, tokens, dispose: () => Object.values(tensors).forEach((t) => t.dispose()) };
}

/**
 * The tfjs update's gradients by parameter name (what grpoUpdate applies), and its objective: summed
 * over `parts` row blocks as grpoUpdate sums them. Not the whole batch at once: a block's forward
 * differs from the batch's where capacity drops tokens (the experts' capacity is per forward).
 */
async function cpuGradients(model: ModelGraph, store: ParamStore, batch: PolicyBatch, refLogp: tf.Tensor2D, parts: number): Promise<{ loss: number; grads: Map<string, Float32Array> }> {
  const byName = new Map([...store.params].map(([name, v]) => [v.name, name]));
  const rows = batch.inputIds.shape[0];
  const size = partRows(rows, parts);
  const whole = { sequences: rows, tokens: batch.tokens };
  const host = new Map<string, Float32Array>();
  let loss = 0;
  for (let from = 0; from < rows; from += size) {
    const part = policyRows(batch, refLogp, from, from + size);
    let raw: tf.Tensor | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const out = policyLogprobs(model, store, part, OPTIONS.temperature);
      raw = out.raw;
      return grpoObjective(out.logp, { ...part, whole }, OPTIONS).loss;
    }, [...store.params.values()]);
    raw?.dispose();
    part.dispose();
    for (const [v, g] of Object.entries(grads)) {
      const name = byName.get(v)!;
      const data = (await g.data()) as Float32Array;
      const sum = host.get(name);
      if (sum) data.forEach((x, i) => (sum[i]! += x));
      else host.set(name, data.slice());
    }
    loss += (await value.data())[0]!;
    tf.dispose([value, ...Object.values(grads)]);
  }
  return { loss, grads: host };
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

async function checkSpec(gpu: CudaRuntime, name: string, model: ModelGraph, parts: number, results: Record<string, unknown>): Promise<boolean> {
  const label = `${name}${parts > 1 ? ` (${parts} micro-batches)` : ''}`;
  const vocab = model.params.find((p) => p.name === 'model.embed_tokens.weight')!.shape[0]!;
  const store = ParamStore.initialise(model, 21);
  const reference = ParamStore.initialise(model, 22);
  const start = await store.snapshot();
  const frozen = await reference.snapshot();
  const batch = await rolloutBatch(model, store, vocab);
  const options: UpdateOptions = { ...OPTIONS, microBatches: parts };
  const cuda = new CudaGrpoPolicy(gpu, model, { params: start.params, state: start.state, reference: frozen }, CONFIG);
  const optimizer = AdamW.forStore(store, CONFIG);
  let ok = true;
  const line = (pass: boolean, text: string): void => {
    ok &&= pass;
    console.log(`${pass ? 'PASS' : 'FAIL'} ${label} ${text}`);
  };
  const record: Record<string, unknown> = {};
  results[label] = record;
  try {
    // 1. the reference's log-probabilities
    const cpuRef = referenceLogprobs(model, reference, batch, OPTIONS.temperature, parts);
    const cudaRef = (await cuda.referenceLogprobs(batch, OPTIONS.temperature, parts))!;
    const mask = (await batch.mask.data()) as Float32Array;
    const masked = async (t: tf.Tensor): Promise<Float32Array> => ((await t.data()) as Float32Array).map((x, i) => x * mask[i]!);
    const refError = relative(await masked(cudaRef), await masked(cpuRef));
    record.reference = refError;
    line(refError <= GRAD_TOLERANCE, `reference log-probabilities within ${GRAD_TOLERANCE} (${refError.toExponential(2)})`);

    // 2. the objective and gradients, summed over the same micro-batches
    const want = await cpuGradients(model, store, batch, cpuRef, parts);
    const got = await cuda.gradients(batch, cpuRef, options);
    const lossError = Math.abs(got.loss - want.loss) / Math.max(Math.abs(want.loss), 1e-30);
    let worst = 0;
    let worstName = '';
    const gradErrors: Record<string, number> = {};
    for (const [param, g] of want.grads) {
      const e = relative(got.grads.get(param)!.data, g);
      gradErrors[param] = e;
      if (e > worst) [worst, worstName] = [e, param];
    }
    const updated = policyParams(model);
    const untouched = model.params.map((p) => p.name).filter((p) => !updated.has(p));
    const noGradient = untouched.every((p) => !want.grads.has(p) && maxAbs(got.grads.get(p)!.data) === 0);
    const sameSet = [...want.grads.keys()].every((p) => updated.has(p)) && want.grads.size === updated.size;
    Object.assign(record, { loss: { cpu: want.loss, cuda: got.loss, relative: lossError }, gradients: gradErrors });
    line(lossError <= GRAD_TOLERANCE, `objective within ${GRAD_TOLERANCE} (cpu ${want.loss.toPrecision(7)}, cuda ${got.loss.toPrecision(7)})`);
    line(worst <= GRAD_TOLERANCE && sameSet && noGradient, `${want.grads.size} gradients within ${GRAD_TOLERANCE} (worst ${worst.toExponential(2)} ${worstName}), ${untouched.length} MTP parameters without one`);

    // 3. one update each: clip, AdamW with weight decay
    const cpuUpdate = await grpoUpdate(model, store, optimizer, batch, cpuRef, options);
    const cudaUpdate = await cuda.update(batch, cpuRef, options);
    const after = cuda.snapshot().params;
    let worstParam = 0;
    let ambiguous = 0;
    let mtpMoved = false;
    for (const p of model.params) {
      const cpuAfter = (await store.params.get(p.name)!.data()) as Float32Array;
      const cudaAfter = after.get(p.name)!.data;
      if (!updated.has(p.name)) {
        const before = start.params.get(p.name)!.data;
        mtpMoved ||= cpuAfter.some((x, i) => x !== before[i]) || cudaAfter.some((x, i) => x !== before[i]);
        continue;
      }
      const g = want.grads.get(p.name)!;
      const [scale, gScale] = [maxAbs(cpuAfter), maxAbs(g)];
      cpuAfter.forEach((x, i) => {
        const e = Math.abs(cudaAfter[i]! - x) / Math.max(scale, 1e-30);
        if (e <= PARAM_TOLERANCE) return;
        if (Math.abs(g[i]!) <= GRAD_TOLERANCE * gScale) ambiguous++;
        else worstParam = Math.max(worstParam, e);
      });
    }
    Object.assign(record, { update: { cpu: cpuUpdate, cuda: cudaUpdate, worstParam, ambiguous } });
    const normError = Math.abs(cudaUpdate.gradNorm - cpuUpdate.gradNorm) / cpuUpdate.gradNorm;
    line(cpuUpdate.nonFinite === null && cudaUpdate.nonFinite === null && normError <= GRAD_TOLERANCE, `gradient norm within ${GRAD_TOLERANCE} (cpu ${cpuUpdate.gradNorm.toPrecision(6)}, cuda ${cudaUpdate.gradNorm.toPrecision(6)}; clip at ${OPTIONS.clipGrad}), KL ${cudaUpdate.kl.toPrecision(4)} / ${cpuUpdate.kl.toPrecision(4)}, clipped ${cudaUpdate.clipFraction.toPrecision(3)} / ${cpuUpdate.clipFraction.toPrecision(3)}, entropy ${cudaUpdate.entropy.toPrecision(5)} / ${cpuUpdate.entropy.toPrecision(5)}`);
    const diagnostics = [cudaUpdate.kl - cpuUpdate.kl, cudaUpdate.clipFraction - cpuUpdate.clipFraction, cudaUpdate.entropy - cpuUpdate.entropy].every((d, i) => Math.abs(d) <= GRAD_TOLERANCE * Math.max(Math.abs([cpuUpdate.kl, cpuUpdate.clipFraction, cpuUpdate.entropy][i]!), 1));
    line(diagnostics, 'KL, clip fraction and entropy equal');
    line(worstParam === 0 && !mtpMoved, `parameters after AdamW within ${PARAM_TOLERANCE} (${ambiguous} elements with a gradient within tolerance of 0 counted, not judged), MTP heads unchanged`);
    tf.dispose([cpuRef, cudaRef]);
  } finally {
    cuda.dispose();
    optimizer.dispose();
    batch.dispose();
    store.dispose();
    reference.dispose();
  }
  return ok;
}

async function main(): Promise<void> {
  const outFile = process.argv[2] ?? join(process.env.OUT ?? '.', 'cuda-grpo-check.json');
  await selectBackend('cpu');
  const gpu = await openCuda();
  console.log(`cuda: ${gpu.description}`);
  const results: Record<string, unknown> = { device: gpu.description };
  let ok = true;
  for (const [name, text] of Object.entries(SPECS)) {
    for (const parts of [1, 2]) {
      ok = (await checkSpec(gpu, name, modelOf(name, text), parts, results)) && ok;
      writeFileSync(outFile, JSON.stringify(results, null, 2));
    }
  }
  console.log(ok ? 'ALL PASS' : 'SOME FAILED');
  if (!ok) process.exit(1);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});

