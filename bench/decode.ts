/**
 * `npm run bench decode [SPEC] [NEW_TOKENS] [BACKENDS]`: generation speed of a spec's first model
 * (seeded random weights) on each backend available here — prefill tokens/s of a 64-token prompt,
 * decode tokens/s at batch 1 and batch 32 with the KV cache, and, as the reference measured in the
 * same run, batch-1 decode without a cache (the whole sequence recomputed per token; tfjs backends
 * only). `cuda` in BACKENDS (not in the default list) measures the cuda decoder (fp32). Also the
 * cache memory per token: MLA's latent cache against the expanded (naive) one.
 */
import { resolve } from 'node:path';
import { nodeHost } from '../compiler/bind/node-host.js';
import { checkFile } from '../compiler/check/index.js';
import { lowerSpec } from '../compiler/lower/index.js';
import type { ModelGraph } from '../ir/types.js';
import { selectBackend, type BackendName } from '../runtime/backend/select.js';
import { CudaDecodeModel } from '../runtime/cuda/decoder.js';
import { openCuda } from '../runtime/cuda/runtime.js';
import { generate, vocabOf, type DecodeSource, type GenerateStats } from '../runtime/infer/generate.js';
import { GREEDY } from '../runtime/infer/sampling.js';
import { forward } from '../runtime/model/forward.js';
import { ParamStore, type TensorData } from '../runtime/model/params.js';
import { tf } from '../runtime/tf.js';

/** prompt length of the decode benchmarks */
export const PROMPT = 64;

/** `count` prompts of PROMPT ids, fixed and different per row. */
export function prompts(model: ModelGraph, count: number): number[][] {
  const vocab = vocabOf(model);
  return Array.from({ length: count }, (_, b) => Array.from({ length: PROMPT }, (_, t) => (b * 31 + t * 7) % vocab));
}

function emptyStats(): GenerateStats {
  return { prefillTokens: 0, decodeTokens: 0, prefillMs: 0, decodeMs: 0, cacheFloatsPerToken: 0 };
}

async function cached(model: ModelGraph, store: DecodeSource, batch: number, newTokens: number, mode: 'latent' | 'naive' = 'latent'): Promise<GenerateStats> {
  const stats = emptyStats();
  await generate(model, store, prompts(model, batch), { maxNewTokens: newTokens, sampling: GREEDY, seed: 0, eos: [], mlaCache: mode }, stats);
  return stats;
}

/** Tokens/s of greedy decoding that reruns the full forward pass for every new token. */
async function uncached(model: ModelGraph, store: ParamStore, newTokens: number): Promise<number> {
  const ids = prompts(model, 1)[0]!;
  const started = performance.now();
  for (let i = 0; i < newTokens; i++) {
    const input = tf.tensor2d(ids, [1, ids.length], 'int32');
    const logits = forward(model, store, { inputIds: input }, ['logits']).get('logits')!;
    const row = (await logits.data()).slice(-logits.shape[2]!);
    ids.push(row.indexOf(Math.max(...row)));
    logits.dispose();
    input.dispose();
  }
  return newTokens / ((performance.now() - started) / 1000);
}

const rate = (tokens: number, ms: number): number => tokens / (ms / 1000);

/** The cuda decoder's line: tfjs on the cpu holds the weights, the cuda engine decodes. */
async function benchCuda(model: ModelGraph, newTokens: number): Promise<void> {
  let engine: CudaDecodeModel;
  try {
    const gpu = await openCuda();
    await selectBackend('cpu');
    const store = ParamStore.initialise(model, 0);
    const snap = await store.snapshot();
    store.dispose();
    engine = new CudaDecodeModel(gpu, model, snap.params as Map<string, TensorData>, snap.state as Map<string, TensorData>);
  } catch (error) {
    console.log(`  cuda   not available: ${(error as Error).message}`);
    return;
  }
  try {
    // warm-ups as for the tfjs backends: kernels loaded, cuBLASLt's algorithms chosen
    await cached(model, engine, 1, 2);
    const one = await cached(model, engine, 1, newTokens);
    await cached(model, engine, 32, 2);
    const many = await cached(model, engine, 32, newTokens);
    console.log(
      `  cuda   prefill ${Math.round(rate(many.prefillTokens, many.prefillMs)).toString().padStart(7)} tok/s (batch 32)` +
        `   decode batch 1 ${rate(one.decodeTokens, one.decodeMs).toFixed(1).padStart(7)} tok/s   batch 32 ${rate(many.decodeTokens, many.decodeMs).toFixed(1).padStart(8)} tok/s` +
        `   (${one.graphReplays ?? 0} + ${many.graphReplays ?? 0} graph replays)`,
    );
  } finally {
    engine.dispose();
  }
}

export async function benchDecode(spec = 'examples/r1-tiny.moe', newTokens = 32, backends = 'cpu,wasm,webgpu'): Promise<void> {
  const document = lowerSpec(checkFile(resolve(spec), nodeHost), process.cwd());
  const model = document.models[0]!;
  console.log(`decoding ${spec} (${model.name}), prompt ${PROMPT} tokens, ${newTokens} new tokens, greedy`);
  for (const name of backends.split(',') as (BackendName | 'cuda')[]) {
    if (name === 'cuda') {
      await benchCuda(model, newTokens);
      continue;
    }
    try {
      await selectBackend(name);
    } catch (error) {
      console.log(`  ${name.padEnd(6)} not available: ${(error as Error).message}`);
      continue;
    }
    const store = ParamStore.initialise(model, 0);
    // a warm-up per batch size, as the HF peer does: kernels compiled, tables built, and on webgpu
    // the decode graph captured (generate keeps it for the next generation of the same shapes)
    await cached(model, store, 1, 2);
    const one = await cached(model, store, 1, newTokens);
    await cached(model, store, 32, 2);
    const many = await cached(model, store, 32, newTokens);
    const reference = await uncached(model, store, Math.min(newTokens, 16));
    const decode1 = rate(one.decodeTokens, one.decodeMs);
    console.log(
      `  ${name.padEnd(6)} prefill ${Math.round(rate(many.prefillTokens, many.prefillMs)).toString().padStart(7)} tok/s (batch 32)` +
        `   decode batch 1 ${decode1.toFixed(1).padStart(7)} tok/s   batch 32 ${rate(many.decodeTokens, many.decodeMs).toFixed(1).padStart(8)} tok/s` +
        `   no-cache batch 1 ${reference.toFixed(1).padStart(6)} tok/s → cache ${(decode1 / reference).toFixed(1)}×`,
    );
    store.dispose();
  }
  const attention = document.models[0]!.config.attention as { kind?: string } | undefined;
  if (attention?.kind === 'mla') {
    await selectBackend('cpu');
    const store = ParamStore.initialise(model, 0);
    const latent = (await cached(model, store, 1, 1, 'latent')).cacheFloatsPerToken;
    const naive = (await cached(model, store, 1, 1, 'naive')).cacheFloatsPerToken;
    store.dispose();
    console.log(`  KV cache per token (fp32, all layers): latent ${latent * 4} B, naive ${naive * 4} B → ${(naive / latent).toFixed(1)}× smaller`);
  }
}
