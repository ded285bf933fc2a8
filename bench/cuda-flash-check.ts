/**
 * `node dist/bench/cuda-flash-check.js [OUT.json]`: the flash attention kernels (kernels/flash.cu)
 * against the tfjs cpu backend, on models whose only rounding is the attention's: fp32 runs with
 * MOE_CUDA_ATTENTION=flash, so q, k, v, the probabilities and dS enter tensor-core products as bf16
 * while everything else stays exact, and the FFNs are dense (a routed expert flipping on a rounding
 * difference would swamp what this measures). Shapes cover GQA groups of 1, 2 and 4, MLA with and
 * without a sliding window, every instantiation from 32×32 to 192×128, and sequences that end inside
 * a tile (T = 100) or span several (T = 130): the logits of a forward pass, then the loss and every
 * parameter's gradient. Each figure is the largest |cuda − cpu| over the largest |cpu| of the tensor,
 * judged against 2e-2 (bf16 has 8 bits of mantissa: 3.9e-3 a rounding); a wrong tile, mask or
 * rescale gives 1e-1 and more. One PASS/FAIL line each, `ALL PASS` or `SOME FAILED` last (exit 1).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { selectBackend } from '../runtime/backend/select.js';
import { CudaModel } from '../runtime/cuda/executor.js';
import { openCuda } from '../runtime/cuda/runtime.js';
import { forward } from '../runtime/model/forward.js';
import { ParamStore, type TensorData } from '../runtime/model/params.js';
import { tf } from '../runtime/tf.js';
import { modelOf, relative } from './cuda-specs.js';

process.env.MOE_CUDA_ATTENTION = 'flash';

const BAR = 2e-2;

/** Dense models, each sized to one flash instantiation (the comment names it). */
const SPECS: Record<string, string> = {
  // 32×32, GQA groups of 2, a window on layer 1
  'gqa-window': `model A {
  vocab = 40, dim = 32, layers = 2, context = 256
  init { std = 0.1 }
  attention gqa { heads = 4, kv_heads = 2, window = 37, window_layers = [1] }
  layers 0..1 { ffn swiglu { hidden = 32 } }
}`,
  // 64×64, one kv head for four query heads
  'mqa-64': `model B {
  vocab = 40, dim = 64, layers = 1, context = 256
  init { std = 0.1 }
  attention gqa { heads = 4, kv_heads = 1, head_dim = 64 }
  layers 0..0 { ffn swiglu { hidden = 32 } }
}`,
  // 96×64: moe-500m's head (nope 64 + rope 32, v 64), with query compression
  'mla-96x64': `model C {
  vocab = 40, dim = 32, layers = 1, context = 256
  init { std = 0.1 }
  attention mla { heads = 2, q_rank = 16, kv_rank = 16, nope_dim = 64, rope_dim = 32, v_dim = 64 }
  layers 0..0 { ffn swiglu { hidden = 32 } }
}`,
  // 192×128: DeepSeek-V2/V3's head, a window
  'mla-192x128-window': `model D {
  vocab = 40, dim = 32, layers = 1, context = 256
  init { std = 0.05 }
  attention mla { heads = 2, q_rank = 0, kv_rank = 16, nope_dim = 128, rope_dim = 64, v_dim = 128, window = 70 }
  layers 0..0 { ffn swiglu { hidden = 32 } }
}`,
};

const SHAPES: readonly (readonly [number, number])[] = [
  [2, 100],
  [1, 130],
];

let allPass = true;
function judge(pass: boolean, text: string): void {
  allPass &&= pass;
  console.log(`${pass ? 'PASS' : 'FAIL'} ${text}`);
}

const idsFor = (vocab: number, n: number, seed: number): Int32Array => Int32Array.from({ length: n }, (_, i) => ((i + seed * 977) * 2654435761) % vocab >>> 0);

async function main(): Promise<void> {
  const outFile = process.argv[2] ?? join(process.env.OUT ?? '.', 'cuda-flash-check.json');
  await selectBackend('cpu');
  const gpu = await openCuda();
  console.log(`cuda: ${gpu.description}`);
  const results: Record<string, unknown> = { device: gpu.description, bar: BAR };
  for (const [name, text] of Object.entries(SPECS)) {
    const model = modelOf(name, text);
    const vocab = model.params.find((p) => p.name === 'model.embed_tokens.weight')!.shape[0]!;
    const store = ParamStore.initialise(model, 11);
    const snap = await store.snapshot();
    const params = snap.params as Map<string, TensorData>;
    const state = snap.state as Map<string, TensorData>;
    for (const [B, T] of SHAPES) {
      const ids = idsFor(vocab, B * T, T);
      const inputIds = tf.tensor2d(ids, [B, T], 'int32');
      const want = (await forward(model, store, { inputIds }, ['logits']).get('logits')!.data()) as Float32Array;
      const cuda = new CudaModel(gpu, model, params, state, { training: true });
      const logits = relative(cuda.forward(ids, B, T, ['logits']).get('logits')!, want);
      const { value, grads } = tf.variableGrads(() => forward(model, store, { inputIds }, ['loss']).get('loss') as tf.Scalar);
      const refLoss = (await value.data())[0]!;
      const byVariable = new Map([...store.params].map(([n, v]) => [v.name, n]));
      const got = cuda.gradients(ids, B, T);
      let worst = { name: '', rel: 0 };
      for (const [vname, grad] of Object.entries(grads)) {
        const pname = byVariable.get(vname)!;
        const rel = relative(got.grads.get(pname)!.data, (await grad.data()) as Float32Array);
        if (rel > worst.rel) worst = { name: pname, rel };
      }
      cuda.dispose();
      const loss = Math.abs(got.loss - refLoss) / Math.abs(refLoss);
      judge(logits <= BAR && loss <= BAR && worst.rel <= BAR, `${name} B=${B} T=${T}: logits ${logits.toExponential(2)}, loss ${loss.toExponential(2)}, worst gradient ${worst.name} ${worst.rel.toExponential(2)}`);
      results[`${name}/${B}x${T}`] = { logits, loss, worstGradient: worst };
      writeFileSync(outFile, JSON.stringify(results, null, 2));
    }
  }
  console.log(allPass ? 'ALL PASS' : 'SOME FAILED');
  if (!allPass) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
