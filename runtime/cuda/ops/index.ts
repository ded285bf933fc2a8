/** The cuda backend's kernels by IR op: the same keys as the tfjs kernels of runtime/ops. */
import { gqa, mla } from './attention.js';
import type { CudaOp } from './context.js';
import { add, concat, embedding, projection, rmsNorm, swiglu } from './dense.js';
import { balance, crossEntropy, lossSum, zLoss } from './losses.js';
import { experts, router } from './moe.js';
import { sharedGate } from './shared-gate.js';

const OPS: { readonly [op: string]: CudaOp } = {
  embedding,
  rms_norm: rmsNorm,
  linear: projection,
  lm_head: projection,
  concat,
  add,
  'attention.mla': mla,
  'attention.gqa': gqa,
  'ffn.swiglu': swiglu,
  'moe.router': router,
  'moe.experts': experts,
  'moe.shared_gate': sharedGate,
  'loss.balance': balance,
  'loss.z': zLoss,
  'loss.cross_entropy': crossEntropy,
  'loss.sum': lossSum,
};

/** The op's cuda kernel, or undefined (never a property of Object.prototype). */
export function cudaOp(op: string): CudaOp | undefined {
  return Object.hasOwn(OPS, op) ? OPS[op] : undefined;
}

export const CUDA_OP_NAMES: readonly string[] = Object.keys(OPS);

export type { BackwardContext, CudaOp, CudaPrecision, Gpu, NodeShapes, OpContext } from './context.js';
export { EXPERT_TILE, expertCapacity, expertRows } from './moe.js';
