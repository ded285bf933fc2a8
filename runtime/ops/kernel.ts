/**
 * The interface every op kernel implements: one IR node's semantics (specs/ir.md) on tfjs tensors.
 * Kernels are pure and use tfjs-core's functional ops only (`tf.add(a, b)`, never `a.add(b)`:
 * chained methods are not registered when only tfjs-core is imported). Differentiable through
 * tfjs autograd; gradient checks in test/runtime/ops.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { AttrValue } from '../../ir/types.js';

export interface KernelArgs {
  readonly inputs: readonly tf.Tensor[];
  /** in the node's order; a stacked parameter (`stack = n`) arrives as one [n, ...shape] tensor */
  readonly params: readonly tf.Tensor[];
  readonly state: readonly tf.Tensor[];
  readonly attrs: { readonly [k: string]: AttrValue };
}

export type Kernel = (args: KernelArgs) => tf.Tensor[];
