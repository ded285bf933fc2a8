/**
 * `npm run bench profile [SPEC] [BACKEND] [TOP] [decode[:BATCH]]`: where one training forward +
 * backward pass (with the gradient norm and finiteness checks of the step's host read) of a spec's
 * first training stage spends its time, kernel by kernel (seeded random weights, the stage's first
 * batch of its own data); with `decode`, one single-token cached decoding step of the spec's first
 * model at batch BATCH (default 1) after a 64-token prompt. A warm-up pass compiles the shaders
 * first; the profiled pass then runs under `tf.profile`, which on webgpu times every kernel on the
 * GPU with timestamp queries (Dawn must offer `timestamp-query`; otherwise every time reads 0).
 * Kernels are grouped by name and input shapes and printed by total time, with each group's share
 * of the pass's summed kernel time, the reference in the same run. The times are the GPU's; the profiled pass itself is slow (each kernel
 * is submitted and read back on its own), so only the shares and the ranking mean anything.
 */
import { dirname, resolve } from 'node:path';
import { nodeHost } from '../compiler/bind/node-host.js';
import { checkFile } from '../compiler/check/index.js';
import { lowerSpec } from '../compiler/lower/index.js';
import { selectBackend, type BackendName } from '../runtime/backend/select.js';
import { openDataset } from '../runtime/data/dataset.js';
import { openTokenizer } from '../runtime/data/open-tokenizer.js';
import { forward } from '../runtime/model/forward.js';
import { Decoder } from '../runtime/infer/decoder.js';
import { PROMPT, prompts } from './decode.js';
import { vocabOf } from '../runtime/infer/generate.js';
import type { GraphDocument } from '../ir/types.js';
import { ParamStore } from '../runtime/model/params.js';
import { trainingStage } from '../runtime/run/stage.js';
import { tf } from '../runtime/tf.js';
import { gradNormSquared } from '../runtime/train/clip.js';
import { nonFiniteFlags } from '../runtime/train/finite.js';

interface Group {
  readonly name: string;
  readonly shapes: string;
  count: number;
  ms: number;
}

export async function benchProfile(spec = 'examples/r1-tiny.moe', backend = 'webgpu', top = 40, mode = 'train'): Promise<void> {
  const specPath = resolve(spec);
  const document = lowerSpec(checkFile(specPath, nodeHost), process.cwd());
  await selectBackend(backend as BackendName);
  if (mode === 'train') return profileTraining(document, specPath, backend, top);
  const match = /^decode(?::(\d+))?$/.exec(mode);
  if (!match) throw new Error(`unknown profile mode ${mode}: train or decode[:BATCH]`);
  return profileDecoding(document, spec, backend, top, Number(match[1] ?? 1));
}

async function profileTraining(document: GraphDocument, specPath: string, backend: string, top: number): Promise<void> {
  const stage = trainingStage(document);
  const model = stage.model;
  const [B, T] = [stage.batch, stage.seqLen];
  const store = ParamStore.initialise(model, 0);
  // a batch of the stage's own data: routing, and so the MoE layers' work, depends on the tokens
  const tokenizer = openTokenizer(stage.tokenizer, document.plan.data, dirname(specPath));
  const dataset = openDataset(stage.data, dirname(specPath), tokenizer, { seqLen: T, batch: B, seed: stage.seed, mode: stage.plan.kind === 'sft' ? 'sft' : 'pretrain' });
  const batch = dataset.train.next();
  const inputs = { inputIds: tf.tensor2d(batch.inputIds, [B, T], 'int32'), lossMask: tf.tensor2d(batch.lossMask, [B, T], 'float32') };
  const variables = [...store.params.values()];
  const pass = (): void => {
    const { value, grads } = tf.variableGrads(() => forward(model, store, inputs, ['loss']).get('loss') as tf.Scalar, variables);
    // what a training step computes for its one host read besides the loss (train/step.ts)
    const checks = tf.tidy(() => [gradNormSquared(Object.values(grads)), nonFiniteFlags(Object.values(grads))]);
    tf.dispose([value, ...Object.values(grads), ...checks]);
  };
  await profilePass(`${specPath} (${model.name}), batch ${B} × ${T}, one forward + backward on ${backend}`, pass, backend, top);
  tf.dispose([inputs.inputIds, inputs.lossMask]);
  store.dispose();
}

/**
 * One single-token step of cached decoding, run plainly (not as a captured graph: a replay is one
 * submission tf.profile cannot see into, but runs the same kernels).
 */
async function profileDecoding(document: GraphDocument, spec: string, backend: string, top: number, rows: number): Promise<void> {
  const model = document.models[0]!;
  const store = ParamStore.initialise(model, 0);
  const vocab = vocabOf(model);
  const decoder = new Decoder(model, store, rows);
  const prompt = prompts(model, rows);
  const feed = (ids: number[][]): void => tf.dispose(decoder.step(ids, ids.map((row) => row.map(() => true))));
  feed(prompt);
  const next = (): number[][] => Array.from({ length: rows }, (_, b) => [(b * 13 + decoder.length) % vocab]);
  await profilePass(`${spec} (${model.name}), one decoding step at batch ${rows} after a ${PROMPT}-token prompt on ${backend}`, () => feed(next()), backend, top);
  decoder.dispose();
  store.dispose();
}

/** Runs `pass` once to warm up, then once under tf.profile, and prints its kernels grouped. */
async function profilePass(title: string, pass: () => void, backend: string, top: number): Promise<void> {
  pass(); // shaders compile, the buffer pool grows
  const fence = tf.tensor1d([0]);
  await fence.data(); // queued after the warm-up pass: it has finished
  fence.dispose();
  const started = performance.now();
  const info = await tf.profile(pass);
  const wallMs = performance.now() - started;

  const groups = new Map<string, Group>();
  let totalMs = 0;
  // custom-gradient scopes (tf.customGrad: "unnamed scope", "logSoftmax__op", …) are listed too, with
  // the time of the kernels inside them, which are listed themselves: only registered kernels count
  const kernels = info.kernels.filter((k) => tf.getKernel(k.name, backend) !== undefined);
  for (const k of kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const shapes = k.inputShapes.map((s) => `[${s.join(',')}]`).join(' ');
    const key = `${k.name} ${shapes}`;
    const group = groups.get(key) ?? { name: k.name, shapes, count: 0, ms: 0 };
    group.count += 1;
    group.ms += ms;
    groups.set(key, group);
    totalMs += ms;
  }
  const byName = new Map<string, number>();
  for (const g of groups.values()) byName.set(g.name, (byName.get(g.name) ?? 0) + g.ms);

  console.log(title);
  console.log(`  ${kernels.length} kernels, summed kernel time ${totalMs.toFixed(1)} ms (profiled wall ${wallMs.toFixed(0)} ms)`);
  console.log('\n  by kernel:');
  for (const [name, ms] of [...byName].sort((a, b) => b[1] - a[1]).slice(0, 20)) {
    console.log(`  ${ms.toFixed(2).padStart(10)} ms  ${((100 * ms) / totalMs).toFixed(1).padStart(5)} %  ${name}`);
  }
  console.log(`\n  top ${top} by kernel and input shapes:`);
  for (const g of [...groups.values()].sort((a, b) => b.ms - a.ms).slice(0, top)) {
    console.log(`  ${g.ms.toFixed(2).padStart(10)} ms  ${((100 * g.ms) / totalMs).toFixed(1).padStart(5)} %  ×${String(g.count).padEnd(4)} ${g.name} ${g.shapes}`);
  }
}
