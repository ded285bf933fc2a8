/**
 * What the cuda executor does not implement: q/k norm, q/k/v biases and sliding windows of
 * attention (issue 20). A plan that uses any of them is refused before
 * cuda opens, in one line; `--backend auto` then runs it on a tfjs backend, which implements them.
 */
import { readAttrs } from '../../ir/attrs.js';
import type { ModelGraph, Node } from '../../ir/types.js';
import { RuntimeError } from '../errors.js';

/** The features of one node the cuda executor lacks, as the spec names them. */
function nodeFeatures(node: Node): string[] {
  if (node.op === 'attention.mla') return readAttrs('attention.mla', node.attrs).window === null ? [] : ['window'];
  if (node.op !== 'attention.gqa') return [];
  const a = readAttrs('attention.gqa', node.attrs);
  return [...(a.qk_norm === 'none' ? [] : [`qk_norm = ${a.qk_norm}`]), ...(a.qkv_bias ? ['qkv_bias'] : []), ...(a.window === null ? [] : ['window'])];
}

/** The features of a model the cuda executor lacks, each once, in the order of the graph. */
export function cudaUnsupported(model: ModelGraph): string[] {
  return [...new Set(model.nodes.flatMap(nodeFeatures))];
}

/** Throws one RuntimeError naming the first model that uses a feature the cuda executor lacks, and the features. */
export function refuseUnsupported(models: readonly ModelGraph[]): void {
  for (const model of models) {
    const missing = cudaUnsupported(model);
    if (missing.length > 0) {
      throw new RuntimeError(
        `the cuda backend does not implement ${missing.join(', ')} (model ${model.name})`,
        'run it on a tfjs backend: --backend auto picks one, or name cpu, wasm or webgpu',
      );
    }
  }
}
