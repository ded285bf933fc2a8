/** One training batch as the data layer hands it to an engine: token ids and loss mask [batch, seqLen], row-major. */
export interface TrainBatch {
  readonly inputIds: Int32Array;
  readonly lossMask: Float32Array;
  readonly batch: number;
  readonly seqLen: number;
}
