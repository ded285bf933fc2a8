/**
 * `node dist/bench/cuda-check.js` on the GPU machine: the cuda backend's forward pass against the
 * tfjs cpu backend (plain fp32 JavaScript, the reference) on random weights and ids, for specs that
 * cover every op variant (MLA with and without query compression, YaRN, GQA, sigmoid group-limited
 * and softmax routing, bias, capacity, shared experts, MTP). Prints the largest relative difference
 * of the logits per spec and writes them as JSON to $OUT/cuda-check.json (or the first argument).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeHost } from '../compiler/bind/node-host.js';
import { checkFile } from '../compiler/check/index.js';
import { lowerSpec } from '../compiler/lower/index.js';
import type { ModelGraph } from '../ir/types.js';
import { selectBackend } from '../runtime/backend/select.js';
import { CudaModel } from '../runtime/cuda/executor.js';
import { openCuda } from '../runtime/cuda/runtime.js';
import { forward } from '../runtime/model/forward.js';
import { ParamStore, type TensorData } from '../runtime/model/params.js';
import { tf } from '../runtime/tf.js';

const SPECS: Record<string, string> = {
  'mla-yarn-groups': `model A {
  vocab = 64, dim = 32, layers = 3, context = 64
  init { std = 0.2 }
  rope { theta = 10000, scaling yarn { factor = 2, original_context = 32, mscale_all_dim = 1 } }
  attention mla { heads = 4, q_rank = 16, kv_rank = 16, nope_dim = 8, rope_dim = 4, v_dim = 8 }
  layers 0..0 { ffn swiglu { hidden = 48 } }
  layers 1..2 { moe { experts = 8, shared = 1, hidden = 16, top_k = 2
    router { score = sigmoid, groups = 4, top_groups = 2, scale = 1.5, balance = bias { rate = 1e-3 } } } }
  mtp { depth = 1, weight = 0.3 }
}`,
  'mla-noq-softmax': `model B {
  vocab = 50, dim = 24, layers = 2, context = 64
  init { std = 0.2 }
  attention mla { heads = 2, q_rank = 0, kv_rank = 8, nope_dim = 8, rope_dim = 8, v_dim = 4 }
  layers 0..1 { moe { experts = 6, hidden = 8, top_k = 3, router { score = softmax, normalize = true } } }
}`,
  'gqa-capacity': `model C {
  vocab = 70, dim = 32, layers = 2, context = 64
  init { std = 0.2 }
  attention gqa { heads = 4, kv_heads = 2 }
  layers 0..1 { moe { experts = 4, hidden = 16, top_k = 2, router { score = softmax, normalize = true, capacity = 1.0 } } }
}`,
};

function modelOf(name: string, text: string): ModelGraph {
  const dir = mkdtempSync(join(tmpdir(), 'moe-cuda-'));
  const path = join(dir, `${name}.moe`);
  writeFileSync(path, text);
  const checked = checkFile(path, nodeHost);
  const errors = checked.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) throw new Error(`${name}: ${errors.map((d) => d.message).join('; ')}`);
  return lowerSpec(checked, dir).models[0]!;
}

function maxRelative(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst / Math.max(scale, 1e-30);
}

async function main(): Promise<void> {
  const outFile = process.argv[2] ?? join(process.env.OUT ?? '.', 'cuda-check.json');
  await selectBackend('cpu');
  const gpu = await openCuda();
  console.log(`cuda: ${gpu.description}`);
  const results: Record<string, unknown> = { device: gpu.description };
  for (const [name, text] of Object.entries(SPECS)) {
    const model = modelOf(name, text);
    const store = ParamStore.initialise(model, 7);
    const snap = await store.snapshot();
    for (const [B, T] of [[2, 16], [3, 64]] as const) {
      const vocab = model.params.find((p) => p.name === 'model.embed_tokens.weight')!.shape[0]!;
      const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 2654435761) % vocab >>> 0);
      const ref = forward(model, store, { inputIds: tf.tensor2d(ids, [B, T], 'int32') }, ['logits']).get('logits')!;
      const want = (await ref.data()) as Float32Array;
      const cuda = new CudaModel(gpu, model, snap.params as Map<string, TensorData>, snap.state as Map<string, TensorData>);
      const got = cuda.forward(ids, B, T, ['logits']).get('logits')!;
      const { plan } = cuda.plan(B, T, ['logits']);
      cuda.dispose();
      const rel = maxRelative(got, want);
      console.log(`${name} B=${B} T=${T}: max |cuda − cpu| / max|cpu| = ${rel.toExponential(2)}   arena ${(plan.peakBytes / 1024).toFixed(0)} KiB of ${(plan.totalBytes / 1024).toFixed(0)} KiB unshared`);
      results[`${name}/${B}x${T}`] = { relative: rel, arenaBytes: plan.peakBytes, unsharedBytes: plan.totalBytes };
    }
    store.dispose();
  }
  writeFileSync(outFile, JSON.stringify(results, null, 2));
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
