/**
 * The kernels: one module per IR op (specs/ir.md), generic tfjs code that runs on every backend.
 * Executors look a kernel up with `kernelFor`, which returns the active backend's own kernel for the
 * op where it registered one (backend/registry.ts), so adding a backend edits no caller.
 */
import { kernelOverride } from '../backend/registry.js';
import type { Kernel } from './kernel.js';
import { add } from './add.js';
import { attentionGqa } from './attention-gqa.js';
import { attentionMla } from './attention-mla.js';
import { concat } from './concat.js';
import { crossEntropy } from './cross-entropy.js';
import { embedding } from './embedding.js';
import { linear } from './linear.js';
import { lmHead } from './lm-head.js';
import { lossBalance } from './loss-balance.js';
import { lossSum } from './loss-sum.js';
import { lossZ } from './loss-z.js';
import { moeExperts } from './moe-experts.js';
import { moeRouter } from './moe-router.js';
import { moeSharedGate } from './moe-shared-gate.js';
import { rmsNorm } from './rms-norm.js';
import { swiglu } from './swiglu.js';

export const KERNELS: { readonly [op: string]: Kernel } = {
  embedding,
  rms_norm: rmsNorm,
  linear,
  concat,
  add,
  'attention.mla': attentionMla,
  'attention.gqa': attentionGqa,
  'ffn.swiglu': swiglu,
  'moe.router': moeRouter,
  'moe.experts': moeExperts,
  'moe.shared_gate': moeSharedGate,
  'loss.balance': lossBalance,
  'loss.z': lossZ,
  lm_head: lmHead,
  'loss.cross_entropy': crossEntropy,
  'loss.sum': lossSum,
};

/** The kernel of IR op `op` on the active backend: its override, else the generic one; undefined for an unknown op. */
export function kernelFor(op: string): Kernel | undefined {
  return kernelOverride(op) ?? (Object.hasOwn(KERNELS, op) ? KERNELS[op] : undefined);
}

export type { Kernel, KernelArgs } from './kernel.js';
