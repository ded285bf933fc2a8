/**
 * Capture once, replay after: the one state machine behind every captured graph — training steps
 * (train/step.ts), validation passes (train/eval-graph.ts) and decode steps (infer/decoder.ts).
 *
 * A ReplaySlot runs its function plainly for its first `warmup` calls (shaders compile, the memory
 * pool grows), captures it on the next through the backend's `graphs` capability, and replays the
 * graph from then on. `check` drops the graph when the work changed (a new key: other shapes or
 * options) or its state moved to other storage (a restored checkpoint); the next call captures
 * again. A capture the backend refuses (a host read inside, say) still ran the function for real:
 * its result comes back as a plain run and the slot stays plain.
 */
import { runtimeEnv } from '../config/env.js';
import type { tf } from '../tf.js';
import type { CommandGraph, GraphCapture } from './capabilities.js';
import { backendCapabilities } from './registry.js';

/** The active backend's graph capture, unless it has none or MOE_WEBGPU_GRAPHS=0 switched graphs off. */
export function graphCapture(): GraphCapture | null {
  const graphs = backendCapabilities().graphs;
  return graphs !== null && runtimeEnv().webgpuGraphs ? graphs : null;
}

/**
 * What one call did. `plain`: the function ran through tfjs and the caller owns its result.
 * `captured` / `replayed`: the result lives in the graph's storage and belongs to the slot (a replay
 * overwrites it); read it through `graph.read`.
 */
export type SlotRun<R> =
  | { readonly mode: 'plain'; readonly result: R }
  | { readonly mode: 'captured' | 'replayed'; readonly result: R; readonly graph: CommandGraph };

export class ReplaySlot<R> {
  private current: { readonly graph: CommandGraph; readonly result: R } | null = null;
  private key = '';
  private warmup: number;
  /** why the backend refused to capture, once it did: the slot then runs everything plainly */
  refused: string | null = null;
  /** calls that replayed the graph */
  replays = 0;

  /** `warmup` plain calls before the capture; `disposeResult` frees what the captured function returned */
  constructor(
    private readonly graphs: GraphCapture,
    warmup: number,
    private readonly disposeResult: (result: R) => void,
  ) {
    this.warmup = warmup;
  }

  /** Drops the graph unless it was captured for `key` and `state` is still in the storage it had. */
  check(key: string, state: readonly tf.Tensor[]): void {
    if (this.current !== null && (key !== this.key || !this.current.graph.valid(state))) this.dispose();
    this.key = key;
  }

  /** Whether there is a graph, captured on `state` as it is now. */
  serves(state: readonly tf.Tensor[]): boolean {
    return this.current !== null && this.current.graph.valid(state);
  }

  /**
   * Runs `fn`: plainly while warming up or after a refusal, captured the first time after (with the
   * tensors `state()` lists as its state), replayed on `inputs` since.
   */
  run(fn: () => R, inputs: readonly tf.Tensor[], state: () => readonly tf.Tensor[]): SlotRun<R> {
    if (this.current !== null) {
      this.current.graph.replay(inputs);
      this.replays++;
      return { mode: 'replayed', ...this.current };
    }
    if (this.refused !== null) return { mode: 'plain', result: fn() };
    if (this.warmup > 0) {
      this.warmup--;
      return { mode: 'plain', result: fn() };
    }
    const captured = this.graphs.capture(fn, { inputs, state: state() });
    if (captured.graph === null) {
      this.refused = captured.refused ?? 'refused';
      return { mode: 'plain', result: captured.result };
    }
    this.current = { graph: captured.graph, result: captured.result };
    return { mode: 'captured', ...this.current };
  }

  /** Disposes the graph and its result; a later run captures again. */
  dispose(): void {
    if (this.current === null) return;
    this.current.graph.dispose();
    this.disposeResult(this.current.result);
    this.current = null;
  }
}
