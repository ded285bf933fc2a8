/**
 * Full recomputation on tfjs (`parallel { recompute = full }`): each decoder layer runs as one
 * custom-gradient op that keeps only its inputs. On the micro model (MLA, a dense and a MoE layer
 * with biased sigmoid routing, balance and z losses, an MTP module) the loss and every parameter's
 * gradient equal the plain pass's (cpu and wasm), no tensor is left behind, and the tape holds less.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelGraph } from '../../../ir/types.js';
import { selectBackend } from '../../../runtime/backend/select.js';
import { forward, neededNodes } from '../../../runtime/model/forward.js';
import { ParamStore } from '../../../runtime/model/params.js';
import { recomputeSteps } from '../../../runtime/model/recompute.js';
import { tf } from '../../../runtime/tf.js';
import { microModel } from '../micro-spec.js';
import { relativeDiff } from '../relative-diff.js';

/** B rows of T tokens, with a loss mask that drops a few positions. */
function batchOf(rows: number, time: number): { inputIds: tf.Tensor2D; lossMask: tf.Tensor2D } {
  const ids = Int32Array.from({ length: rows * time }, (_, i) => (i * 7 + 3) % 40);
  const mask = Float32Array.from({ length: rows * time }, (_, i) => (i % 5 === 0 ? 0 : 1));
  return { inputIds: tf.tensor2d(ids, [rows, time], 'int32'), lossMask: tf.tensor2d(mask, [rows, time], 'float32') };
}

interface Pass {
  readonly loss: number;
  readonly grads: Map<string, Float32Array>;
  readonly loads: Float32Array[];
  /** tensors and bytes alive when the backward starts (what the tape holds) */
  readonly taped: { tensors: number; bytes: number };
}

async function pass(model: ModelGraph, store: ParamStore, recompute: boolean): Promise<Pass> {
  const batch = batchOf(4, 16);
  const loads = model.outputs.filter((o) => o.endsWith('.load'));
  let taped = { tensors: 0, bytes: 0 };
  let values = new Map<string, tf.Tensor>();
  const { value, grads } = tf.variableGrads(() => {
    values = forward(model, store, batch, ['loss', ...loads], { recompute });
    const loss = values.get('loss') as tf.Scalar;
    const m = tf.memory();
    taped = { tensors: m.numTensors, bytes: m.numBytes };
    return loss;
  }, [...store.params.values()]);
  const byVariable = new Map([...store.params].map(([name, v]) => [v.name, name]));
  const out = new Map<string, Float32Array>();
  for (const [vname, g] of Object.entries(grads)) out.set(byVariable.get(vname)!, (await g.data()) as Float32Array);
  const result = { loss: (await value.data())[0]!, grads: out, loads: await Promise.all(loads.map(async (n) => (await values.get(n)!.data()) as Float32Array)), taped };
  tf.dispose([value, ...Object.values(grads), ...values.values(), batch.inputIds, batch.lossMask]);
  return result;
}

describe('recompute = full on tfjs', () => {
  let model: ModelGraph;
  beforeAll(async () => {
    await selectBackend('cpu');
    model = microModel();
  });

  it('groups each decoder layer (main and MTP) into one segment; model-level nodes run alone', () => {
    const nodes = neededNodes(model, ['loss']);
    const steps = recomputeSteps(model, nodes, ['loss']);
    const segments = steps.flatMap((s) => ('segment' in s ? [s.segment] : []));
    expect(segments.map((s) => s.layer)).toEqual([0, 1, 2]);
    // layer 1 exports its hidden state and its router's losses; the int indices stay inside
    expect(segments[1]!.carried).toEqual(['h.1']);
    expect(segments[1]!.floats).toEqual(expect.arrayContaining(['h.2', 'h.2.ffn_out.balance_loss', 'h.2.ffn_out.z_loss']));
    expect(segments[1]!.ints).toEqual([]);
    // the MTP module reads the token ids and mask as fixed inputs, and the main hidden state
    expect(segments[2]!.fixed).toEqual(['input_ids', 'loss_mask']);
    expect(segments[2]!.carried).toEqual(['h.2']);
    expect(steps.filter((s) => 'node' in s).map((s) => ('node' in s ? s.node.op : ''))).toEqual(['embedding', 'rms_norm', 'lm_head', 'loss.cross_entropy', 'loss.sum']);
  });

  it('gives the plain pass\'s loss, loads and every parameter\'s gradient', async () => {
    const store = ParamStore.initialise(model, 5);
    const plain = await pass(model, store, false);
    const again = await pass(model, store, true);
    expect(Math.abs(again.loss - plain.loss) / Math.abs(plain.loss)).toBeLessThan(1e-6);
    expect(again.loads).toEqual(plain.loads);
    expect([...again.grads.keys()].sort()).toEqual([...plain.grads.keys()].sort());
    expect(plain.grads.size).toBe(store.params.size);
    for (const [name, g] of plain.grads) {
      const diff = relativeDiff(again.grads.get(name)!, g);
      if (diff >= 1e-6) throw new Error(`${name}: relative difference ${diff}`);
    }
    store.dispose();
  });

  it('passes an int output that leaves a layer (the router\'s indices) out beside the op, unchanged and not leaked', async () => {
    const store = ParamStore.initialise(model, 5);
    const wanted = ['loss', 'h.2.ffn_out.indices'];
    const segment = recomputeSteps(model, neededNodes(model, wanted), wanted).flatMap((s) => ('segment' in s ? [s.segment] : []))[1]!;
    expect(segment.ints).toEqual(['h.2.ffn_out.indices']);
    const batch = batchOf(2, 8);
    const indices = async (recompute: boolean): Promise<{ ids: Int32Array; grad: Float32Array }> => {
      let out = new Map<string, tf.Tensor>();
      const { value, grads } = tf.variableGrads(() => {
        out = forward(model, store, batch, wanted, { recompute });
        return out.get('loss') as tf.Scalar;
      }, [...store.params.values()]);
      const ids = (await out.get('h.2.ffn_out.indices')!.data()) as Int32Array;
      const grad = (await Object.values(grads)[0]!.data()) as Float32Array;
      tf.dispose([value, ...Object.values(grads), ...out.values()]);
      return { ids, grad };
    };
    await indices(true);
    const before = tf.memory().numTensors;
    const plain = await indices(false);
    const again = await indices(true);
    expect(tf.memory().numTensors).toBe(before);
    expect(again.ids).toEqual(plain.ids);
    expect(relativeDiff(again.grad, plain.grad)).toBeLessThan(1e-6);
    tf.dispose([batch.inputIds, batch.lossMask]);
    store.dispose();
  });

  it('gives the plain pass\'s loss and gradients on the wasm backend too', async () => {
    await selectBackend('wasm');
    expect(tf.getBackend()).toBe('wasm');
    const store = ParamStore.initialise(model, 5);
    const plain = await pass(model, store, false);
    const again = await pass(model, store, true);
    expect(Math.abs(again.loss - plain.loss) / Math.abs(plain.loss)).toBeLessThan(1e-6);
    for (const [name, g] of plain.grads) {
      const diff = relativeDiff(again.grads.get(name)!, g);
      if (diff >= 1e-6) throw new Error(`${name}: relative difference ${diff}`);
    }
    store.dispose();
    await selectBackend('cpu');
  });

  it('leaves no tensor behind and keeps fewer on the tape', async () => {
    const store = ParamStore.initialise(model, 5);
    await pass(model, store, true); // warm-up: the backend's one-time tensors
    const before = tf.memory().numTensors;
    const plain = await pass(model, store, false);
    const again = await pass(model, store, true);
    expect(tf.memory().numTensors).toBe(before);
    console.log(`at the backward: plain ${plain.taped.tensors} tensors ${plain.taped.bytes} B; recompute ${again.taped.tensors} tensors ${again.taped.bytes} B`);
    expect(again.taped.bytes).toBeLessThan(plain.taped.bytes);
    store.dispose();
  });

  afterAll(async () => {
    await selectBackend('cpu');
  });
});
