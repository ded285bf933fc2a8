/**
 * `node dist/bench/cuda-decode-check.js [OUT.json]` on the GPU machine: the cuda decoder
 * (runtime/cuda/decoder.ts) against the tfjs cached decoder on the cpu backend (the reference), on
 * random weights, for the specs of bench/cuda-specs.ts (MLA's latent cache with and without query
 * compression, YaRN, GQA, dropless experts where training has a capacity):
 *   1. a left-padded batch of three prompts (lengths 5, 1, 9): the prefill's last-column logits, then
 *      12 single-token steps fed the cpu's greedy ids (the first runs eagerly, the second is
 *      captured, the other 10 must replay the CUDA graph; after step 5 the middle row finishes and
 *      leaves the batch) — every step's logits within 1e-4 relative in fp32 mode, the same argmax;
 *   2. generate() end to end, greedy, 16 new tokens for the same prompts: the same ids;
 *   3. the prefill and steps in bf16 mode, reported (not judged);
 *   4. a long cache (GQA and MLA, prompts of 1300 and 900 tokens, 4 steps): the attention kernel
 *      takes the columns in chunks of 1024 with an online softmax, so this crosses a chunk border,
 *      with left padding spanning one — within 1e-4 in fp32.
 * Prints one PASS/FAIL line per spec and check, and `ALL PASS` or `SOME FAILED` last (exit 1); the
 * figures go as JSON to $OUT/cuda-decode-check.json (or the first argument).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelGraph } from '../ir/types.js';
import { selectBackend } from '../runtime/backend/select.js';
import { CudaDecodeModel } from '../runtime/cuda/decoder.js';
import type { CudaPrecision } from '../runtime/cuda/ops/context.js';
import { openCuda, type CudaRuntime } from '../runtime/cuda/runtime.js';
import { Decoder } from '../runtime/infer/decoder.js';
import { generate } from '../runtime/infer/generate.js';
import { argmax, GREEDY } from '../runtime/infer/sampling.js';
import type { StepDecoder } from '../runtime/infer/step-decoder.js';
import { ParamStore, type TensorData } from '../runtime/model/params.js';
import { modelOf, relative, SPECS } from './cuda-specs.js';

const PROMPTS = [
  [3, 17, 42, 5, 9],
  [8],
  [11, 12, 13, 14, 15, 16, 1, 2, 30],
];
const STEPS = 12;
/** the step after which the middle row leaves the batch */
const DROP_AFTER = 5;
const TOLERANCE = 1e-4;

interface Trace {
  /** worst relative error over the prefill and each step, and whether every argmax agreed */
  readonly errors: number[];
  readonly argmaxAgree: boolean;
  readonly replays: number;
}

/** Longer than decode_attention's chunk of 1024 columns (kernels/decode.cu DECODE_CHUNK). */
const LONG_PROMPTS = [1300, 900].map((n, r) => Array.from({ length: n }, (_, i) => (i * 7 + r * 3 + (i >> 5)) % 61));
const LONG_STEPS = 4;
const LONG_SPECS: Record<string, string> = {
  'long-gqa': `model L {
  vocab = 64, dim = 16, layers = 1, context = 2048
  init { std = 0.2 }
  attention gqa { heads = 2, kv_heads = 1 }
  layers 0..0 { ffn swiglu { hidden = 16 } }
}`,
  'long-mla': `model K {
  vocab = 64, dim = 16, layers = 1, context = 2048
  init { std = 0.2 }
  attention mla { heads = 2, q_rank = 0, kv_rank = 8, nope_dim = 4, rope_dim = 4, v_dim = 4 }
  layers 0..0 { ffn swiglu { hidden = 16 } }
}`,
};

/** Feeds both decoders the same columns (the reference's greedy ids) and compares the logits of every step. */
async function trace(reference: StepDecoder, cuda: StepDecoder, vocab: number, prompts = PROMPTS, steps = STEPS, dropAfter = DROP_AFTER): Promise<Trace> {
  const width = Math.max(...prompts.map((p) => p.length));
  let ids = prompts.map((p) => [...new Array<number>(width - p.length).fill(0), ...p]);
  let real = prompts.map((p) => ids[0]!.map((_, t) => t >= width - p.length));
  const errors: number[] = [];
  let argmaxAgree = true;
  for (let step = 0; step <= steps; step++) {
    const want = await reference.next(ids, real);
    const got = await cuda.next(ids, real);
    errors.push(relative(got, want));
    const rows = want.length / vocab;
    const next: number[] = [];
    for (let b = 0; b < rows; b++) {
      const [w, g] = [argmax(want.subarray(b * vocab, (b + 1) * vocab)), argmax(got.subarray(b * vocab, (b + 1) * vocab))];
      if (w !== g) argmaxAgree = false;
      next.push(w);
    }
    if (step === dropAfter) {
      reference.keepRows([0, 2]);
      cuda.keepRows([0, 2]);
      next.splice(1, 1);
    }
    ids = next.map((id) => [id]);
    real = next.map(() => [true]);
  }
  return { errors, argmaxAgree, replays: cuda.replays };
}

async function checkSpec(gpu: CudaRuntime, name: string, model: ModelGraph, results: Record<string, unknown>): Promise<boolean> {
  const vocab = model.params.find((p) => p.name === 'model.embed_tokens.weight')!.shape[0]!;
  const store = ParamStore.initialise(model, 11);
  const snap = await store.snapshot();
  const [params, state] = [snap.params as Map<string, TensorData>, snap.state as Map<string, TensorData>];
  const capacity = 32;
  const engines = new Map<CudaPrecision, CudaDecodeModel>((['fp32', 'bf16'] as const).map((p) => [p, new CudaDecodeModel(gpu, model, params, state, p)]));
  let ok = true;
  const line = (pass: boolean, text: string): void => {
    ok &&= pass;
    console.log(`${pass ? 'PASS' : 'FAIL'} ${name} ${text}`);
  };
  try {
    for (const [precision, engine] of engines) {
      const reference = new Decoder(model, store, PROMPTS.length, 'latent');
      const cuda = engine.open(PROMPTS.length, capacity, 'latent');
      const t = await trace(reference, cuda, vocab);
      reference.dispose();
      cuda.dispose();
      const worst = Math.max(...t.errors);
      results[`${name}/${precision}/steps`] = t;
      const summary = `prefill ${t.errors[0]!.toExponential(2)}, worst step ${Math.max(...t.errors.slice(1)).toExponential(2)}, argmax ${t.argmaxAgree ? 'equal' : 'DIFFERS'}, ${t.replays} graph replays`;
      if (precision === 'fp32') line(worst <= TOLERANCE && t.argmaxAgree && t.replays === STEPS - 2, `fp32 prefill + ${STEPS} steps within ${TOLERANCE} (${summary})`);
      else console.log(`info ${name} bf16 ${summary}`);
    }
    const options = { maxNewTokens: 16, sampling: GREEDY, seed: 0, eos: [] };
    const want = (await generate(model, store, PROMPTS, options)).map((c) => c.ids);
    const got = (await generate(model, engines.get('fp32')!, PROMPTS, options)).map((c) => c.ids);
    results[`${name}/generate`] = { cpu: want, cuda: got };
    line(JSON.stringify(want) === JSON.stringify(got), `generate() greedy ids equal (${got.map((ids) => ids.slice(0, 6).join(',')).join(' | ')} …)`);
  } finally {
    for (const engine of engines.values()) engine.dispose();
    store.dispose();
  }
  return ok;
}

/** A cache longer than one attention chunk: prefill and steps against the cpu decoder, fp32. */
async function checkLong(gpu: CudaRuntime, name: string, model: ModelGraph, results: Record<string, unknown>): Promise<boolean> {
  const vocab = model.params.find((p) => p.name === 'model.embed_tokens.weight')!.shape[0]!;
  const store = ParamStore.initialise(model, 13);
  const snap = await store.snapshot();
  const engine = new CudaDecodeModel(gpu, model, snap.params as Map<string, TensorData>, snap.state as Map<string, TensorData>, 'fp32');
  try {
    const reference = new Decoder(model, store, LONG_PROMPTS.length, 'latent');
    const cuda = engine.open(LONG_PROMPTS.length, LONG_PROMPTS[0]!.length + LONG_STEPS + 1, 'latent');
    const t = await trace(reference, cuda, vocab, LONG_PROMPTS, LONG_STEPS, -1);
    reference.dispose();
    cuda.dispose();
    results[`${name}/fp32/steps`] = t;
    const pass = Math.max(...t.errors) <= TOLERANCE && t.argmaxAgree;
    console.log(`${pass ? 'PASS' : 'FAIL'} ${name} fp32 prefill of ${LONG_PROMPTS.map((p) => p.length).join(' and ')} tokens + ${LONG_STEPS} steps within ${TOLERANCE} (prefill ${t.errors[0]!.toExponential(2)}, worst step ${Math.max(...t.errors.slice(1)).toExponential(2)}, argmax ${t.argmaxAgree ? 'equal' : 'DIFFERS'})`);
    return pass;
  } finally {
    engine.dispose();
    store.dispose();
  }
}

async function main(): Promise<void> {
  const outFile = process.argv[2] ?? join(process.env.OUT ?? '.', 'cuda-decode-check.json');
  await selectBackend('cpu');
  const gpu = await openCuda();
  console.log(`cuda: ${gpu.description}`);
  const results: Record<string, unknown> = { device: gpu.description };
  let ok = true;
  for (const [name, text] of Object.entries(SPECS)) {
    ok = (await checkSpec(gpu, name, modelOf(name, text), results)) && ok;
    writeFileSync(outFile, JSON.stringify(results, null, 2));
  }
  for (const [name, text] of Object.entries(LONG_SPECS)) {
    ok = (await checkLong(gpu, name, modelOf(name, text), results)) && ok;
    writeFileSync(outFile, JSON.stringify(results, null, 2));
  }
  console.log(ok ? 'ALL PASS' : 'SOME FAILED');
  if (!ok) process.exit(1);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
