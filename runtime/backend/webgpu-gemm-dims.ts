/**
 * The shape of one (batched) matrix product on webgpu, shared by the tiled GEMM (webgpu-matmul.ts)
 * and the few-row GEMV (webgpu-gemv.ts): its own file so that neither imports the other's module
 * for it (the GEMM dispatches to the GEMV, not the other way).
 */
export interface GemmDims {
  readonly batch: number;
  readonly M: number;
  readonly N: number;
  readonly K: number;
  readonly transA: boolean;
  readonly transB: boolean;
  /** how many A / B matrices there are (1: the same one for every batch) */
  readonly batchA: number;
  readonly batchB: number;
  /** B's matrix for batch z is Index[z] (an int32 input) instead of z */
  readonly indexedB: boolean;
  /**
   * Batch z sums over k in [KStart[z], KStart[z] + KCount[z]) only (two int32 inputs) of one A
   * and one B that span all K: per-expert weight gradients over the expert's own rows.
   */
  readonly segmentK?: boolean;
}
