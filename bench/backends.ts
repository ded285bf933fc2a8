/**
 * `npm run bench backends [SPEC]`: forward and forward+backward time of a spec's first model on each
 * CPU backend (cpu, wasm), medians of several runs at batch 4 × 64 tokens, with the ratio to the
 * cpu backend measured in the same run. It decides runtime/backend's CPU default.
 */
import { resolve } from 'node:path';
import { nodeHost } from '../compiler/bind/node-host.js';
import { checkFile } from '../compiler/check/index.js';
import { lowerSpec } from '../compiler/lower/index.js';
import { selectBackend, type BackendName } from '../runtime/backend/select.js';
import { forward } from '../runtime/model/forward.js';
import { ParamStore } from '../runtime/model/params.js';
import { tf } from '../runtime/tf.js';
import { median } from './timing.js';

async function timeAsync(fn: () => Promise<void>, runs: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

export async function benchBackends(spec = 'examples/r1-tiny.moe', runs = 5): Promise<void> {
  const model = lowerSpec(checkFile(resolve(spec), nodeHost), process.cwd()).models[0]!;
  const [batch, time] = [4, 64];
  const results: { name: BackendName; forwardMs: number; stepMs: number }[] = [];
  for (const name of ['cpu', 'wasm'] as const) {
    await selectBackend(name);
    const store = ParamStore.initialise(model, 0);
    const ids = tf.tensor2d(Array.from({ length: batch * time }, (_, i) => (i * 7) % 256), [batch, time], 'int32');
    const fwd = async (): Promise<void> => {
      const out = forward(model, store, { inputIds: ids }, ['loss']);
      await out.get('loss')!.data();
      out.forEach((t) => t.dispose());
    };
    const step = async (): Promise<void> => {
      const { value, grads } = tf.variableGrads(() => forward(model, store, { inputIds: ids }, ['loss']).get('loss') as tf.Scalar);
      await value.data();
      value.dispose();
      Object.values(grads).forEach((g) => g.dispose());
    };
    await fwd();
    await step();
    results.push({ name, forwardMs: median(await timeAsync(fwd, runs)), stepMs: median(await timeAsync(step, runs)) });
    store.dispose();
    ids.dispose();
  }
  const cpu = results[0]!;
  console.log(`${model.name}: batch ${batch} × ${time} tokens, medians of ${runs}`);
  for (const r of results) {
    console.log(
      `  ${r.name.padEnd(5)} forward ${r.forwardMs.toFixed(0).padStart(6)} ms (${(cpu.forwardMs / r.forwardMs).toFixed(1)}× cpu)   ` +
        `forward+backward ${r.stepMs.toFixed(0).padStart(6)} ms (${(cpu.stepMs / r.stepMs).toFixed(1)}× cpu)   ` +
        `${Math.round((batch * time) / (r.stepMs / 1000))} training tokens/s`,
    );
  }
}
