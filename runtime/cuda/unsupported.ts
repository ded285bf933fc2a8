/**
 * What the cuda executor has no kernels for: the IR ops missing from ops/index.ts. Today it has one
 * for every op (test/runtime/cuda/unsupported.test.ts checks); an op added to the IR without one is
 * refused here, in one line, before cuda opens, so `--backend auto` runs that model on a tfjs backend.
 */
import type { ModelGraph } from '../../ir/types.js';
import { RuntimeError } from '../errors.js';
import { cudaOp } from './ops/index.js';

/** The ops of a model the cuda executor lacks, each once, in the order of the graph. */
export function cudaUnsupported(model: ModelGraph): string[] {
  return [...new Set(model.nodes.map((node) => node.op).filter((op) => cudaOp(op) === undefined))];
}

/** Throws one RuntimeError naming the first model that uses an op the cuda executor lacks, and the ops. */
export function refuseUnsupported(models: readonly ModelGraph[]): void {
  for (const model of models) {
    const missing = cudaUnsupported(model);
    if (missing.length > 0) {
      throw new RuntimeError(
        `the cuda backend has no kernels for ${missing.join(', ')} (model ${model.name})`,
        'run it on a tfjs backend: --backend auto picks one, or name cpu, wasm or webgpu',
      );
    }
  }
}
