/**
 * Validation passes as one captured graph where the backend has them (backend/replay.ts; webgpu
 * today): every batch has the same shapes and the weights change only in place, so the first pass
 * runs plainly, the second is captured and the rest replay, as training steps do. Undefined on other
 * backends or with MOE_WEBGPU_GRAPHS=0.
 */
import type { ModelGraph } from '../../ir/types.js';
import { graphCapture, ReplaySlot } from '../backend/replay.js';
import { forward } from '../model/forward.js';
import type { ParamStore } from '../model/params.js';
import type { tf } from '../tf.js';

export class EvalGraph {
  private constructor(private readonly slot: ReplaySlot<tf.Tensor>) {}

  static forBackend(): EvalGraph | undefined {
    const graphs = graphCapture();
    return graphs === null ? undefined : new EvalGraph(new ReplaySlot<tf.Tensor>(graphs, 1, (loss) => loss.dispose()));
  }

  /** passes that replayed the graph */
  get replays(): number {
    return this.slot.replays;
  }

  /** The main loss of one batch (inputs: ids and loss mask). */
  async loss(model: ModelGraph, store: ParamStore, inputs: readonly [tf.Tensor2D, tf.Tensor2D]): Promise<number> {
    const state = [...store.params.values(), ...store.state.values()];
    this.slot.check('', state);
    const run = this.slot.run(() => forward(model, store, { inputIds: inputs[0], lossMask: inputs[1] }, ['loss.main']).get('loss.main')!, inputs, () => state);
    if (run.mode !== 'plain') return (await run.graph.read(run.result))[0]!;
    try {
      return (await run.result.data())[0]!;
    } finally {
      run.result.dispose();
    }
  }

  dispose(): void {
    this.slot.dispose();
  }
}
